import Dossiers
import Foundation
import Postgres

/// The SQL of the administrator's queue views: the queue list, the per-structure counts, the
/// retry of parked rows, and dossier lookups. Every method runs on the caller's connection,
/// inside the caller's transaction.
struct QueueReportStore {
    let connection: Connection

    struct EntriesParams {
        var structure: String?
        /// Only dossiers submitted at least this many seconds ago.
        var olderThan: TimeInterval?
        /// Dossiers in any of these states are listed…
        var states: [DossierState]
        /// …and those with a parked queue row, when true…
        var failed: Bool
        /// …and those with a queue row waiting for a worker, when true.
        var queued: Bool
    }

    /// One line per matching dossier, oldest submission first.
    func entries(_ params: EntriesParams) throws -> [QueueEntry] {
        try connection.query(
            """
            SELECT d.id, d.external_id, s.code AS structure, d.state, d.version,
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
            """, [params.structure, params.olderThan, params.states, params.failed, params.queued]
        ).map { row in
            QueueEntry(
                id: try row.decode("id"), externalID: try row.decode("external_id"),
                structure: try row.decode("structure"), state: try row.decode(DossierState.self, "state"),
                version: try row.decode("version"), family: try row.decode("family"),
                children: try row.decode("children"), submittedAt: try row.decode("submitted_at"),
                timeZone: try row.decode("timezone"),
                ageSeconds: try row.decode("age"), jobs: try row.decode("jobs"),
                attempts: try row.decode("attempts"), lastError: try row.decodeIfPresent("last_error"),
                failed: try row.decode("failed"), runAt: try row.decodeIfPresent("run_at"))
        }
    }

    /// A structure's queue backlog, failures and unexported emails.
    struct Backlog: Equatable {
        var structure: String
        var waiting: Int
        var oldestWaitingSeconds: Int
        var failed: Int
        var outboxPending: Int
    }

    /// Per structure (one, or all), in code order.
    func backlogs(structure: String?) throws -> [Backlog] {
        try connection.query(
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
            """, [structure]
        ).map { row in
            Backlog(
                structure: try row.decode("code"), waiting: try row.decode("waiting"),
                oldestWaitingSeconds: try row.decode("oldest"), failed: try row.decode("failed"),
                outboxPending: try row.decode("outbox_pending"))
        }
    }

    /// How many dossiers of a structure are in a state (states with none are absent).
    struct StateCount: Equatable {
        var structure: String
        var state: DossierState
        var count: Int
    }

    func dossiersByState(structure: String?) throws -> [StateCount] {
        try connection.query(
            """
            SELECT s.code, d.state, count(*) AS n
            FROM dossiers d JOIN structures s ON s.id = d.structure_id
            WHERE $1::text IS NULL OR s.code = $1
            GROUP BY s.code, d.state
            """, [structure]
        ).map { StateCount(structure: try $0.decode("code"), state: try $0.decode("state"), count: try $0.decode("n")) }
    }

    /// How many decisions of a structure had an outcome in the last hour (outcomes with none are absent).
    struct OutcomeCount: Equatable {
        var structure: String
        var outcome: Outcome
        var count: Int
    }

    func decisionsLastHour(structure: String?) throws -> [OutcomeCount] {
        try connection.query(
            """
            SELECT s.code, x.outcome, count(*) AS n
            FROM decisions x JOIN dossiers d ON d.id = x.dossier_id JOIN structures s ON s.id = d.structure_id
            WHERE x.decided_at > now() - interval '1 hour' AND ($1::text IS NULL OR s.code = $1)
            GROUP BY s.code, x.outcome
            """, [structure]
        ).map { OutcomeCount(structure: try $0.decode("code"), outcome: try $0.decode("outcome"), count: try $0.decode("n")) }
    }

    /// Emails of a structure in one delivery state, and how long the oldest unsent one has waited.
    struct DeliveryCount: Equatable {
        var structure: String
        var delivery: EmailDelivery
        var count: Int
        /// Seconds since the oldest pending or deferred email of the group was written; 0 for the others.
        var oldestUnsentSeconds: Int
    }

    func emailsByDelivery(structure: String?) throws -> [DeliveryCount] {
        try connection.query(
            """
            SELECT s.code, o.delivery, count(*) AS n,
                   coalesce(greatest(0, floor(extract(epoch FROM now() - min(o.created_at)
                            FILTER (WHERE o.delivery IN ('pending', 'deferred'))))), 0)::bigint AS oldest
            FROM email_outbox o JOIN structures s ON s.id = o.structure_id
            WHERE $1::text IS NULL OR s.code = $1
            GROUP BY s.code, o.delivery
            """, [structure]
        ).map {
            DeliveryCount(
                structure: try $0.decode("code"), delivery: try $0.decode("delivery"), count: try $0.decode("n"),
                oldestUnsentSeconds: try $0.decode("oldest"))
        }
    }

    /// Queue rows of a dossier, parked or not.
    func queuedCount(dossierID: Int64) throws -> Int {
        try connection.query("SELECT count(*) AS n FROM dossier_queue WHERE dossier_id = $1", [dossierID])
            .first?.decode(Int.self, "n") ?? 0
    }

    /// Puts parked queue rows back (attempts to 0, due now), of one dossier or one structure or all,
    /// and wakes the idle workers when any was.
    /// - Returns: the dossiers' external ids, in queue order.
    func retryParked(dossierID: Int64?, structure: String?) throws -> [String] {
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
        return dossiers
    }

    /// Every dossier (of one structure, when given) with its last decision and its rights, oldest
    /// submission first.
    func dossierLines(structure: String?) throws -> [Administration.DossierLine] {
        try connection.query(
            """
            SELECT d.external_id, s.code AS structure, d.state, d.version,
                   (SELECT count(*) FROM children c WHERE c.dossier_id = d.id) AS children,
                   coalesce((SELECT array_agg(f->>'code') FROM jsonb_array_elements(x.findings) f), '{}') AS findings,
                   x.decided_by,
                   (SELECT count(*) FROM reservation_rights r WHERE r.dossier_id = d.id) AS rights,
                   EXISTS (SELECT 1 FROM dossier_queue q WHERE q.dossier_id = d.id) AS queued,
                   (SELECT q.last_error FROM dossier_queue q WHERE q.dossier_id = d.id ORDER BY q.id LIMIT 1) AS last_error
            FROM dossiers d
            JOIN structures s ON s.id = d.structure_id
            LEFT JOIN LATERAL (
                SELECT findings, decided_by FROM decisions WHERE dossier_id = d.id ORDER BY id DESC LIMIT 1
            ) x ON true
            WHERE $1::text IS NULL OR s.code = $1
            ORDER BY d.submitted_at, d.id
            """, [structure]
        ).map { row in
            Administration.DossierLine(
                externalID: try row.decode("external_id"), structure: try row.decode("structure"),
                state: try row.decode(DossierState.self, "state"), version: try row.decode("version"),
                children: try row.decode("children"), findings: try row.decode("findings"),
                decidedBy: try row.decodeIfPresent("decided_by"), rightsOpened: try row.decode("rights"),
                queued: try row.decode("queued"), lastError: try row.decodeIfPresent("last_error"))
        }
    }

    /// The internal id of a dossier named by its external id or its internal numeric id (the
    /// external id wins when both match).
    func dossierID(_ reference: String) throws -> Int64? {
        try connection.query(
            "SELECT id FROM dossiers WHERE external_id = $1 OR id::text = $1 ORDER BY external_id = $1 DESC LIMIT 1",
            [reference]
        ).first?.decode(Int64.self, "id")
    }
}

extension EmailDelivery: PostgresDecodable, PostgresBindable, PostgresArrayElement, StoredEnum {}
