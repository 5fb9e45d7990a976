import Dossiers
import Foundation
import Postgres

/// A claimed row of `dossier_queue`, locked by the claiming transaction until it commits.
public struct QueueItem: Sendable, Equatable {
    public enum Job: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
        case process
        case openRights = "open_rights"

        /// The database's label (`open_rights`), as reports print it.
        public var description: String { rawValue }
    }

    public var id: Int64
    var dossierID: Int64
    public var job: Job
    var periodID: Int64?
    public var attempts: Int
}

/// The queue's SQL. Every method runs on the caller's connection, inside the caller's transaction.
struct QueueStore {
    let connection: Connection

    /// The due rows, oldest first, that other workers do not hold. Callers take them as
    /// `id = ANY (ARRAY(due))`, not `id IN (due)`: a worker's statements are planned once per
    /// session (``SessionStore/planPreparedStatementsOnce()``), and the plan of `IN`, not knowing
    /// the `LIMIT`, joined a batch to a scan of the whole queue.
    private static let due = """
        SELECT id FROM dossier_queue
        WHERE failed_at IS NULL AND run_at <= \(DecisionClock.now)
        ORDER BY run_at, id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """

    /// Locks up to `limit` due rows, oldest first, skipping rows other workers hold.
    func claimBatch(limit: Int) throws -> [QueueItem] {
        try connection.query(
            """
            SELECT id, dossier_id, job::text AS job, period_id, attempts FROM dossier_queue
            WHERE id = ANY (ARRAY(\(Self.due))) ORDER BY run_at, id
            """, [limit]
        ).map(QueueItem.init)
    }

    /// Deletes up to `limit` due rows, oldest first, skipping rows other workers hold, and returns
    /// them: claimed and done in one statement, for a transaction that handles them all or rolls
    /// back (which puts them back).
    func takeBatch(limit: Int) throws -> [QueueItem] {
        try connection.query(
            """
            DELETE FROM dossier_queue WHERE id = ANY (ARRAY(\(Self.due)))
            RETURNING id, dossier_id, job::text AS job, period_id, attempts
            """, [limit]
        ).map(QueueItem.init)
    }

    func delete(_ ids: [Int64]) throws {
        guard !ids.isEmpty else { return }
        try connection.query("DELETE FROM dossier_queue WHERE id = ANY($1::bigint[])", [ids])
    }

    /// Puts a failed row back with exponential backoff, or parks it as failed after `maxAttempts`.
    /// The delay counts from now, not from the start of the (possibly long) batch transaction.
    /// - Returns: whether the row is now parked.
    @discardableResult
    func retryLater(_ id: Int64, error: String, maxAttempts: Int, baseDelay: Duration) throws -> Bool {
        let rows = try connection.query(
            """
            UPDATE dossier_queue SET attempts = attempts + 1, last_error = left($2, 2000),
                last_attempt_at = clock_timestamp(),
                run_at = \(DecisionClock.statementNow) + make_interval(secs => least($4::float8 * power(2, attempts), 3600)),
                failed_at = CASE WHEN attempts + 1 >= $3 THEN now() END
            WHERE id = $1
            RETURNING failed_at IS NOT NULL AS parked
            """, [id, error, maxAttempts, baseDelay.seconds])
        return try rows.first?.decode(Bool.self, "parked") ?? false
    }

    /// How long until the next row falls due (by the decision clock, which may be pinned), for an
    /// idle worker's sleep.
    func secondsUntilNextRow() throws -> Double? {
        try connection.query(
            """
            SELECT extract(epoch FROM min(run_at) - \(DecisionClock.now))::float8 AS wait
            FROM dossier_queue WHERE failed_at IS NULL
            """
        ).first?.decodeIfPresent(Double.self, "wait")
    }
}

extension QueueItem {
    /// A row of a claim: id, dossier_id, job, period_id, attempts.
    init(_ row: Row) throws {
        self.init(
            id: try row.decode("id"), dossierID: try row.decode("dossier_id"),
            job: try row.decode("job"),
            periodID: try row.decodeIfPresent("period_id"), attempts: try row.decode("attempts"))
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
