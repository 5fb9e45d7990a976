import Foundation
import Postgres

/// Opens connections the way every part of the back office needs them.
enum Database {
    /// Connects and names the actor that the audit trail records for state changes.
    ///
    /// - Throws: ``BackOfficeError`` `.databaseUnreachable` with libpq's reason.
    static func connect(_ conninfo: String, actor: String) throws -> Connection {
        let connection: Connection
        do {
            connection = try Connection(conninfo)
        } catch {
            // libpq's reason spans lines ("…failed: …\n\tIs the server running…"): one line is read better.
            let reason = error.message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .joined(separator: " ")
            throw BackOfficeError(.databaseUnreachable, "cannot connect to the database: \(reason)", underlying: error)
        }
        // JIT compiles a plan in tens to hundreds of milliseconds: a loss for statements like ours,
        // which run in a few milliseconds.
        try database("cannot prepare the connection") {
            try connection.query("SELECT set_config('eticket.actor', $1, false), set_config('jit', 'off', false)", [actor])
        }
        return connection
    }
}
