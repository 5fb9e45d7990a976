import Mail
import Postgres

@testable import BackOffice

/// The outbox rows' messages as the export and the sender render them (migration 029: a row
/// keeps its email's particulars, not its bytes).
enum RenderedOutbox {
    /// The message of the first row `query` selects (its `id` column), rendered.
    static func message(_ query: String, _ parameters: [(any PostgresBindable)?] = [], on connection: Connection) throws
        -> [UInt8]?
    {
        guard let id = try connection.query(query, parameters).first?.decode(Int64.self, "id") else { return nil }
        return try message(id: id, on: connection)
    }

    static func message(id: Int64, on connection: Connection) throws -> [UInt8]? {
        try OutboxStore(connection: connection).email(id: id).map { try EmailRenderer().render($0, on: connection).bytes }
    }
}
