import Foundation
import Mail
import Postgres

/// The SQL of a scheduled batch run: its advisory lock, the database's time, what is due and the
/// emails a run wrote. Every method runs on the caller's connection; the lock is the session's.
struct BatchRunStore {
    let connection: Connection

    /// Takes the session-level advisory lock `key`, without waiting.
    /// - Returns: whether this session holds it now.
    func tryLock(_ key: Int64) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock($1) AS taken", [key]).first?.decode("taken") ?? false
    }

    /// The backend that holds the advisory lock `key` in this database, if any.
    func lockHolder(_ key: Int64) throws -> Int? {
        // A bigint key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits);
        // advisory locks belong to one database, as does the run they stand for.
        try connection.query(
            """
            SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295)
            LIMIT 1
            """, [key]
        ).first?.decodeIfPresent("pid")
    }

    func unlock(_ key: Int64) throws {
        try connection.query("SELECT pg_advisory_unlock($1)", [key])
    }

    /// The database's time at the start of the current transaction (`now()`).
    func databaseNow() throws -> Date? {
        try connection.query("SELECT now() AS now").first?.decode("now")
    }

    /// Queue rows due now by the decision clock, not parked.
    func dueCount() throws -> Int {
        try connection.query(
            "SELECT count(*) AS n FROM dossier_queue WHERE failed_at IS NULL AND run_at <= \(DecisionClock.now)"
        ).first?.decode("n") ?? 0
    }

    /// Emails written since `start`, by kind (`dossier-processed`, `planning-open`).
    func emailsByKind(since start: Date) throws -> [EmailKind: Int] {
        var emails: [EmailKind: Int] = [:]
        for row in try connection.query(
            "SELECT kind, count(*) AS n FROM email_outbox WHERE created_at >= $1 GROUP BY kind", [start])
        {
            emails[try row.decode("kind")] = try row.decode("n")
        }
        return emails
    }
}
