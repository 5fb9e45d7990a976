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
            throw BackOfficeError(.databaseUnreachable, "cannot connect to the database: \(error.message)", underlying: error)
        }
        try database("cannot prepare the connection") {
            try connection.query("SELECT set_config('eticket.actor', $1, false)", [actor])
        }
        return connection
    }
}
