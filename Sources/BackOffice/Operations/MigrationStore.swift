import Foundation
import Postgres

/// The SQL of the migration history (`schema_migrations`) and the lock that serializes migrators.
/// Every method runs on the caller's connection; the lock is the session's.
struct MigrationStore {
    let connection: Connection

    /// Waits for the session-level advisory lock `key`.
    func lock(_ key: Int64) throws {
        try connection.query("SELECT pg_advisory_lock($1)", [key])
    }

    func unlock(_ key: Int64) throws {
        try connection.query("SELECT pg_advisory_unlock($1)", [key])
    }

    /// Creates the history table unless it exists.
    func createHistory() throws {
        try connection.execute(
            script: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
    }

    /// Runs the migration's script and records it with its checksum, in the caller's transaction.
    func apply(_ migration: Migration) throws {
        try connection.execute(script: migration.sql)
        try connection.query(
            """
            INSERT INTO schema_migrations (version, name, checksum)
            VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))
            """, [migration.version, migration.name, migration.sql])
    }

    /// A row of the history, compared with the file of the same version.
    struct Recorded: Equatable {
        var name: String
        var appliedAt: Date
        /// Whether a file of this version exists and its checksum is the recorded one.
        var matches: Bool
    }

    /// The history by version, each compared with `files`; empty when there is no history table.
    func recorded(comparedWith files: [Migration]) throws -> [Int: Recorded] {
        let history = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try history.first?.decode(Bool.self, "present") == true else { return [:] }
        let rows = try connection.query(
            """
            SELECT m.version, m.name, m.applied_at,
                   m.checksum = encode(sha256(convert_to(f.sql, 'UTF8')), 'hex') AS matches
            FROM schema_migrations m
            LEFT JOIN unnest($1::int[], $2::text[]) AS f(version, sql) USING (version)
            """, [files.map(\.version), files.map(\.sql)])
        var recorded: [Int: Recorded] = [:]
        for row in rows {
            recorded[try row.decode(Int.self, "version")] = Recorded(
                name: try row.decode("name"), appliedAt: try row.decode("applied_at"),
                matches: try row.decodeIfPresent(Bool.self, "matches") ?? false)
        }
        return recorded
    }
}
