import Dossiers
import Foundation
import Postgres

/// What `queue list --state` may ask for: a dossier state, or where its queue row stands.
public enum QueueFilter: Hashable, Sendable {
    /// Dossiers in this state.
    case state(DossierState)
    /// Dossiers with a queue row parked after its attempts ran out.
    case failed
    /// Dossiers with a queue row waiting for a worker (due or scheduled, not parked).
    case queued

    /// `submitted`, `planning_open`, …, `failed` or `queued`; `nil` for anything else.
    public init?(_ text: String) {
        switch text {
        case "failed": self = .failed
        case "queued": self = .queued
        default:
            guard let state = DossierState(rawValue: text) else { return nil }
            self = .state(state)
        }
    }

    /// Every value `init(_:)` accepts, for help texts and error messages.
    public static var names: [String] { DossierState.allCases.map(\.rawValue) + ["failed", "queued"] }
}

/// One dossier on the administrator's queue view.
public struct QueueEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var externalID: String
    public var structure: String
    public var state: String
    public var version: Int
    /// The account holder's last name, as this dossier gives it.
    public var family: String
    /// The children's first names, in the dossier's order.
    public var children: [String]
    public var submittedAt: Date
    /// The structure's IANA time zone, in which an administrator reads the times.
    public var timeZone: String
    /// Seconds since submission (never negative).
    public var ageSeconds: Int
    /// The queue's work for this dossier (`process`, `open_rights`), empty when nothing is queued.
    public var jobs: [String]
    /// Attempts of its queue rows (the highest), 0 when nothing is queued.
    public var attempts: Int
    public var lastError: String?
    /// Whether a queue row is parked for an administrator (`eticket queue retry`).
    public var failed: Bool
    /// When the next queue row falls due.
    public var runAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, structure, state, version, family, children, attempts, failed, jobs
        case externalID = "external_id"
        case submittedAt = "submitted_at"
        case timeZone = "time_zone"
        case ageSeconds = "age_seconds"
        case lastError = "last_error"
        case runAt = "run_at"
    }
}

/// Counts for one structure, the numbers `queue stats` and the Prometheus metrics show.
public struct StructureQueueStats: Sendable, Equatable, Codable {
    public var structure: String
    /// Dossiers per state; every state is present, 0 included.
    public var dossiers: [String: Int]
    /// Queue rows waiting for a worker and due now.
    public var waiting: Int
    /// Seconds the oldest due, unparked queue row has waited; 0 when none waits.
    public var oldestWaitingSeconds: Int
    /// Decisions of the last hour per outcome; every outcome is present.
    public var decisionsLastHour: [String: Int]
    /// Queue rows parked after their attempts ran out.
    public var failed: Int
    /// Emails not exported yet.
    public var outboxPending: Int
    /// Emails per delivery state (`pending`, `sent`, `deferred`, `failed`, `skipped`); every state is present.
    public var delivery: [String: Int] = Dictionary(uniqueKeysWithValues: EmailDelivery.allCases.map { ($0.rawValue, 0) })
    /// Seconds the oldest email not sent yet (pending or deferred) has waited since it was written; 0 when none.
    public var oldestUnsentSeconds = 0

    enum CodingKeys: String, CodingKey {
        case structure, dossiers, waiting, failed, delivery
        case oldestUnsentSeconds = "oldest_unsent_seconds"
        case oldestWaitingSeconds = "oldest_waiting_seconds"
        case decisionsLastHour = "decisions_last_hour"
        case outboxPending = "outbox_pending"
    }
}

/// An outbox message's way to the mail relay, as `email_outbox.delivery` holds it (migration 018).
public enum EmailDelivery: String, Sendable, Codable, CaseIterable {
    /// Not offered yet.
    case pending
    /// The relay answered 250.
    case sent
    /// A 4xx, or the connection lost or silent: offered again at its next attempt.
    case deferred
    /// A 5xx, or the attempts ran out.
    case failed
    /// Exported to files before mail delivery existed: never sent by eticket.
    case skipped
}

/// How many parked queue rows a retry put back.
public struct RetryReport: Sendable, Equatable {
    /// The external ids of the dossiers re-queued, in queue order.
    public var dossiers: [String]
    public var count: Int { dossiers.count }
}

extension Administration {
    /// The queue as an administrator reads it: one line per dossier, oldest submission first.
    ///
    /// - Parameters:
    ///   - filters: dossier states, `failed` or `queued`; a dossier matching any is listed. Empty
    ///     means what waits for someone: queued or parked work, and dossiers awaiting review.
    ///   - olderThan: only dossiers submitted at least this many seconds ago.
    ///   - structure: only this structure's dossiers.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func queueEntries(
        filters: Set<QueueFilter> = [], olderThan: TimeInterval? = nil, structure: String? = nil
    ) throws -> [QueueEntry] {
        try requireStructure(structure)
        var states = filters.compactMap { filter -> String? in
            if case .state(let state) = filter { return state.rawValue }
            return nil
        }
        var failed = filters.contains(.failed)
        var queued = filters.contains(.queued)
        if filters.isEmpty {
            states = [DossierState.awaitingReview.rawValue]
            failed = true
            queued = true
        }
        return try database("cannot list the queue") {
            try connection.query(
                """
                SELECT d.id, d.external_id, s.code AS structure, d.state::text AS state, d.version,
                       coalesce(d.content->'account'->>'last_name', a.last_name) AS family, d.submitted_at,
                       s.timezone,
                       greatest(0, floor(extract(epoch FROM now() - d.submitted_at)))::bigint AS age,
                       coalesce((SELECT array_agg(c.first_name ORDER BY c.position) FROM children c
                                 WHERE c.dossier_id = d.id), '{}') AS children,
                       coalesce(q.jobs, '{}') AS jobs, coalesce(q.attempts, 0) AS attempts, q.last_error,
                       coalesce(q.failed, false) AS failed, q.run_at
                FROM dossiers d
                JOIN structures s ON s.id = d.structure_id
                JOIN accounts a ON a.id = d.account_id
                LEFT JOIN LATERAL (
                    SELECT array_agg(job::text ORDER BY id) AS jobs, max(attempts) AS attempts,
                           (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1] AS last_error,
                           bool_or(failed_at IS NOT NULL) AS failed,
                           min(run_at) FILTER (WHERE failed_at IS NULL) AS run_at,
                           bool_or(failed_at IS NULL) AS waiting
                    FROM dossier_queue WHERE dossier_id = d.id
                ) q ON q.jobs IS NOT NULL
                WHERE ($1::text IS NULL OR s.code = $1)
                  AND ($2::float8 IS NULL OR d.submitted_at <= now() - make_interval(secs => $2))
                  AND (d.state::text = ANY($3::text[])
                       OR ($4 AND coalesce(q.failed, false))
                       OR ($5 AND coalesce(q.waiting, false)))
                ORDER BY d.submitted_at, d.id
                """, [structure, olderThan, states, failed, queued]
            ).map { row in
                QueueEntry(
                    id: try row.decode("id"), externalID: try row.decode("external_id"),
                    structure: try row.decode("structure"), state: try row.decode("state"),
                    version: try row.decode("version"), family: try row.decode("family"),
                    children: try row.decode("children"), submittedAt: try row.decode("submitted_at"),
                    timeZone: try row.decode("timezone"),
                    ageSeconds: try row.decode("age"), jobs: try row.decode("jobs"),
                    attempts: try row.decode("attempts"), lastError: try row.decodeIfPresent("last_error"),
                    failed: try row.decode("failed"), runAt: try row.decodeIfPresent("run_at"))
            }
        }
    }

    /// Per structure: dossiers by state, the queue's backlog and failures, the last hour's
    /// decisions and the emails not exported yet. Structures are in code order.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func queueStats(structure: String? = nil) throws -> [StructureQueueStats] {
        try requireStructure(structure)
        return try database("cannot count the queue") {
            var stats: [String: StructureQueueStats] = [:]
            var order: [String] = []
            for row in try connection.query(
                """
                SELECT s.code,
                       (SELECT count(*) FROM dossier_queue q JOIN dossiers d ON d.id = q.dossier_id
                        WHERE d.structure_id = s.id AND q.failed_at IS NULL AND q.run_at <= \(DecisionClock.now)) AS waiting,
                       coalesce((SELECT greatest(0, floor(extract(epoch FROM \(DecisionClock.now) - min(q.run_at))))
                                 FROM dossier_queue q JOIN dossiers d ON d.id = q.dossier_id
                                 WHERE d.structure_id = s.id AND q.failed_at IS NULL AND q.run_at <= \(DecisionClock.now)), 0)::bigint AS oldest,
                       (SELECT count(*) FROM dossier_queue q JOIN dossiers d ON d.id = q.dossier_id
                        WHERE d.structure_id = s.id AND q.failed_at IS NOT NULL) AS failed,
                       (SELECT count(*) FROM email_outbox o
                        WHERE o.structure_id = s.id AND o.exported_at IS NULL) AS outbox_pending
                FROM structures s
                WHERE $1::text IS NULL OR s.code = $1
                ORDER BY s.code
                """, [structure])
            {
                let code: String = try row.decode("code")
                order.append(code)
                stats[code] = StructureQueueStats(
                    structure: code,
                    dossiers: Dictionary(uniqueKeysWithValues: DossierState.allCases.map { ($0.rawValue, 0) }),
                    waiting: try row.decode("waiting"), oldestWaitingSeconds: try row.decode("oldest"),
                    decisionsLastHour: Dictionary(uniqueKeysWithValues: Outcome.allCases.map { ($0.rawValue, 0) }),
                    failed: try row.decode("failed"), outboxPending: try row.decode("outbox_pending"))
            }
            for row in try connection.query(
                """
                SELECT s.code, d.state::text AS state, count(*) AS n
                FROM dossiers d JOIN structures s ON s.id = d.structure_id
                WHERE $1::text IS NULL OR s.code = $1
                GROUP BY s.code, d.state
                """, [structure])
            {
                stats[try row.decode("code")]?.dossiers[try row.decode("state")] = try row.decode("n")
            }
            for row in try connection.query(
                """
                SELECT s.code, x.outcome::text AS outcome, count(*) AS n
                FROM decisions x JOIN dossiers d ON d.id = x.dossier_id JOIN structures s ON s.id = d.structure_id
                WHERE x.decided_at > now() - interval '1 hour' AND ($1::text IS NULL OR s.code = $1)
                GROUP BY s.code, x.outcome
                """, [structure])
            {
                stats[try row.decode("code")]?.decisionsLastHour[try row.decode("outcome")] = try row.decode("n")
            }
            for row in try connection.query(
                """
                SELECT s.code, o.delivery::text AS delivery, count(*) AS n,
                       coalesce(greatest(0, floor(extract(epoch FROM now() - min(o.created_at)
                                FILTER (WHERE o.delivery IN ('pending', 'deferred'))))), 0)::bigint AS oldest
                FROM email_outbox o JOIN structures s ON s.id = o.structure_id
                WHERE $1::text IS NULL OR s.code = $1
                GROUP BY s.code, o.delivery
                """, [structure])
            {
                let code: String = try row.decode("code")
                stats[code]?.delivery[try row.decode("delivery")] = try row.decode("n")
                let oldest: Int = try row.decode("oldest")
                let before = stats[code]?.oldestUnsentSeconds ?? 0
                stats[code]?.oldestUnsentSeconds = max(before, oldest)
            }
            return order.compactMap { stats[$0] }
        }
    }

    /// Puts a dossier's parked queue rows back: attempts to 0, due now, the last error kept.
    ///
    /// - Parameter dossier: the external id, or the internal numeric id.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown dossier, `.refused` when the dossier
    ///   has no parked queue row.
    public func retryFailed(dossier: String) throws -> RetryReport {
        let id = try dossierID(dossier)
        let report = try retry(dossierID: id, structure: nil)
        guard report.count > 0 else {
            let queued = try database("cannot read the queue") {
                try connection.query("SELECT count(*) AS n FROM dossier_queue WHERE dossier_id = $1", [id])
                    .first?.decode(Int.self, "n") ?? 0
            }
            throw BackOfficeError(
                .refused,
                "dossier \(dossier) has no failed queue item to retry"
                    + (queued > 0 ? " (it is queued and waiting for a worker)" : " (it is not queued)"))
        }
        return report
    }

    /// Puts every parked queue row back (of one structure, when given).
    public func retryAllFailed(structure: String? = nil) throws -> RetryReport {
        try requireStructure(structure)
        return try retry(dossierID: nil, structure: structure)
    }

    private func retry(dossierID: Int64?, structure: String?) throws -> RetryReport {
        try database("cannot retry the failed queue items") {
            try connection.transaction { connection in
                let dossiers = try connection.query(
                    """
                    WITH retried AS (
                        UPDATE dossier_queue q SET failed_at = NULL, attempts = 0, run_at = \(DecisionClock.now)
                        FROM dossiers d JOIN structures s ON s.id = d.structure_id
                        WHERE d.id = q.dossier_id AND q.failed_at IS NOT NULL
                          AND ($1::bigint IS NULL OR d.id = $1) AND ($2::text IS NULL OR s.code = $2)
                        RETURNING q.id, d.external_id
                    )
                    SELECT external_id FROM retried ORDER BY id
                    """, [dossierID, structure]
                ).map { try $0.decode(String.self, "external_id") }
                // Idle workers sleep on LISTEN; the rows are due now.
                if !dossiers.isEmpty { try connection.query("SELECT pg_notify('dossier_queue', '')") }
                return RetryReport(dossiers: dossiers)
            }
        }
    }

    // MARK: - Lookups shared by the administration reports

    /// The internal id of a dossier named by its external id or its internal numeric id.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound`: "no dossier X".
    func dossierID(_ reference: String) throws -> Int64 {
        let found = try database("cannot find the dossier") {
            try connection.query(
                "SELECT id FROM dossiers WHERE external_id = $1 OR id::text = $1 ORDER BY external_id = $1 DESC LIMIT 1",
                [reference]
            ).first?.decode(Int64.self, "id")
        }
        guard let found else { throw BackOfficeError(.notFound, "no dossier \(reference)") }
        return found
    }

    /// Fails with "no structure X" unless `code` is nil or names a structure.
    func requireStructure(_ code: String?) throws {
        try BackOffice.requireStructure(code, on: connection)
    }
}

/// Fails with "no structure X" unless `code` is nil or names a structure: a filter on a misspelt
/// structure is an error, never an empty report that reads as "nothing to do".
///
/// - Throws: ``BackOfficeError`` `.notFound`.
func requireStructure(_ code: String?, on connection: Connection) throws {
    guard let code else { return }
    let exists = try database("cannot find the structure") {
        try StructureStore(connection: connection).id(code: code) != nil
    }
    guard exists else { throw BackOfficeError(.notFound, "no structure \(code)") }
}
