import Dossiers
import Foundation
import Postgres

/// A verdict to record on a dossier.
struct DecisionRecord {
    var dossierID: Int64
    var outcome: Outcome
    var findings: [Finding]
    /// An administrator's words; workers leave it empty.
    var reason: String?
    /// The SHA-256, in hex, of the content judged (``LoadedDossier/contentSHA256``).
    var contentSHA256: String
}

/// Writes decisions and opens reservation rights: the SQL shared by workers and administrators.
struct DecisionStore {
    let connection: Connection

    /// Records each decision and moves each dossier to its outcome's state, for dossiers still in
    /// `expectedState` (the dossier_events trigger writes the audit rows).
    ///
    /// - Returns: the new decision ids, by dossier id.
    func record(_ decisions: [DecisionRecord], decidedBy: String, expectedStates: [DossierState]) throws -> [Int64: Int64] {
        let decided = try insert(decisions, decidedBy: decidedBy, expectedStates: expectedStates)
        let moved = decisions.filter { decided[$0.dossierID] != nil }
        try connection.query(
            """
            UPDATE dossier_status s SET state = i.state::dossier_state
            FROM unnest($1::bigint[], $2::text[]) AS i(dossier_id, state)
            WHERE s.dossier_id = i.dossier_id
            """, [moved.map(\.dossierID), moved.map(\.outcome.state.rawValue)])
        return decided
    }

    /// Writes the decisions on the dossiers still in `expectedStates`, without moving them: the
    /// caller carries them out in the same transaction (the database checks it at commit).
    ///
    /// - Returns: the new decision ids, by dossier id.
    func insert(_ decisions: [DecisionRecord], decidedBy: String, expectedStates: [DossierState]) throws -> [Int64: Int64] {
        guard !decisions.isEmpty else { return [:] }
        let findings = try decisions.map { String(decoding: try JSONEncoder().encode($0.findings), as: UTF8.self) }
        let rows = try connection.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, findings, reason, rules_version,
                                   content_sha256, decided_by)
            SELECT s.dossier_id, s.version, i.outcome::decision_outcome, i.findings::jsonb, nullif(i.reason, ''), $6,
                   i.content_sha256, $7
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                AS i(dossier_id, outcome, findings, reason, content_sha256)
            JOIN dossier_status s ON s.dossier_id = i.dossier_id
            WHERE s.state::text = ANY($8::text[])
            RETURNING id, dossier_id
            """,
            [
                decisions.map(\.dossierID).postgresBinary, decisions.map(\.outcome.rawValue).postgresBinary,
                findings.postgresBinary, decisions.map { $0.reason ?? "" }.postgresBinary,
                decisions.map(\.contentSHA256).postgresBinary, CompletenessRules.version, decidedBy,
                expectedStates.map(\.rawValue).postgresBinary,
            ])
        var decided: [Int64: Int64] = [:]
        for row in rows { decided[try row.decode("dossier_id")] = try row.decode("id") }
        return decided
    }

    /// A decided dossier to move, with the periods whose rights open now if it was validated.
    struct Verdict {
        var dossierID: Int64
        var outcome: Outcome
        /// `.current` or `.due` for a validated dossier whose structure opens rights at once or on
        /// schedule; `nil` otherwise.
        var opening: PeriodSelection?
    }

    /// Carries out decisions written by ``insert(_:decidedBy:expectedStates:)``, in one statement:
    /// opens the rights of the validated dossiers whose periods open now, and moves each dossier
    /// to its outcome's state, or straight to `planning_open` when its rights opened (one status
    /// version and one event, which records that it passed through `validated`). The rights and
    /// the move are checked together at the statement's end (migrations 006, 008 and 022).
    ///
    /// - Returns: each child's rights opened or widened, for the planning-open emails.
    func carryOut(_ verdicts: [Verdict], openedBy: String) throws -> [OpenedChildRights] {
        guard !verdicts.isEmpty else { return [] }
        let rows = try connection.query(
            """
            WITH input AS (
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) AS i(dossier_id, state, periods)
            ), opened AS (
                INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
                SELECT d.id, p.id, c.id, d.structure_id, v.ids, $4
                FROM input i
                JOIN dossier_records d ON d.id = i.dossier_id
                JOIN structures s ON s.id = d.structure_id
                JOIN children c ON c.dossier_id = d.id
                CROSS JOIN LATERAL (\(Self.childServices())) v
                JOIN periods p ON p.structure_id = d.structure_id
                WHERE i.state = 'validated' AND i.periods IN ('current', 'due') AND v.ids IS NOT NULL
                  AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date
                  AND (i.periods <> 'due' OR p.planning_opens_at IS NULL OR p.planning_opens_at <= \(DecisionClock.now))
                \(Self.widening)
                RETURNING dossier_id, period_id, child_id, service_ids
            ), moved AS (
                UPDATE dossier_status s
                SET state = CASE WHEN o.dossier_id IS NULL THEN i.state::dossier_state ELSE 'planning_open' END
                FROM input i LEFT JOIN (SELECT DISTINCT dossier_id FROM opened) o ON o.dossier_id = i.dossier_id
                WHERE s.dossier_id = i.dossier_id
            )
            -- The statement's snapshot holds the rights from before it, not those it opens.
            SELECT o.dossier_id, o.period_id, c.position, o.service_ids,
                   NOT EXISTS (SELECT FROM child_period_rights r WHERE r.dossier_id = o.dossier_id
                                                                    AND r.period_id = o.period_id) AS first
            FROM opened o JOIN children c ON c.id = o.child_id
            """,
            [
                verdicts.map(\.dossierID).postgresBinary, verdicts.map(\.outcome.state.rawValue).postgresBinary,
                verdicts.map { $0.opening?.name ?? "" }.postgresBinary, openedBy,
            ])
        return try rows.map { row in
            OpenedChildRights(
                dossierID: try row.decode("dossier_id"), periodID: try row.decode("period_id"),
                childPosition: try row.decode("position"), serviceIDs: try row.decode("service_ids"),
                first: try row.decode("first"))
        }
    }

    /// A child's rights in a period, as ``carryOut(_:openedBy:)`` left them.
    struct OpenedChildRights {
        var dossierID: Int64
        var periodID: Int64
        /// The child's place in its dossier (`children.position`).
        var childPosition: Int
        /// Every service the child has in the period now.
        var serviceIDs: [Int64]
        /// Whether the dossier had no rights in the period before: its rights there are then these
        /// rows alone, and no day is reserved yet.
        var first: Bool
    }

    /// The services (ids, in order) that child `c` of dossier `d` asked for, all of the
    /// structure's when it named none, or NULL when none of them is the structure's; `only`, when
    /// not NULL, keeps that one service.
    private static func childServices(only: String = "NULL::bigint") -> String {
        """
        SELECT array_agg(v.id ORDER BY v.id) AS ids FROM services v
        WHERE v.structure_id = d.structure_id AND (c.services IS NULL OR v.code = ANY (c.services))
          AND (\(only) IS NULL OR v.id = \(only))
        """
    }

    /// Rights already open for the child and period gain the services they lacked (and are
    /// returned as opened); rights that have them all are left as they are (and are not).
    private static let widening = """
        ON CONFLICT (dossier_id, period_id, child_id) DO UPDATE
        SET service_ids = ARRAY(SELECT DISTINCT s FROM unnest(child_period_rights.service_ids || EXCLUDED.service_ids) AS s
                                ORDER BY s)
        WHERE NOT child_period_rights.service_ids @> EXCLUDED.service_ids
        """

    /// A dossier and period whose rights were just opened.
    struct Opening: Hashable {
        var dossierID: Int64
        var periodID: Int64
        var children: Int
    }

    /// Which periods to open.
    enum PeriodSelection {
        /// Every period not yet ended.
        case current
        /// Periods not yet ended whose planning_opens_at has passed (or is not set).
        case due
        case period(Int64)

        /// How the SQL names it.
        var name: String {
            switch self {
            case .current: "current"
            case .due: "due"
            case .period: "period"
            }
        }
    }

    /// Opens reservation rights for each child of these validated dossiers, for the services it
    /// asked for (all when none) and the selected periods, then moves the dossiers to
    /// `planning_open`. Rights already open are left as they are.
    ///
    /// - Returns: the (dossier, period) pairs where something opened, for the planning-open emails.
    func openRights(_ dossierIDs: [Int64], periods: PeriodSelection, serviceID: Int64? = nil, openedBy: String) throws
        -> [Opening]
    {
        guard !dossierIDs.isEmpty else { return [] }
        let periodID: Int64? = if case .period(let id) = periods { id } else { nil }
        let rows = try connection.query(
            """
            WITH opened AS (
                INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
                SELECT d.id, p.id, c.id, d.structure_id, v.ids, $5
                FROM dossier_records d
                JOIN dossier_status ds ON ds.dossier_id = d.id
                JOIN structures s ON s.id = d.structure_id
                JOIN children c ON c.dossier_id = d.id
                CROSS JOIN LATERAL (\(Self.childServices(only: "$4::bigint"))) v
                JOIN periods p ON p.structure_id = d.structure_id
                WHERE d.id = ANY($1::bigint[]) AND ds.state IN ('validated', 'planning_open') AND v.ids IS NOT NULL
                  AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date
                  AND ($2 <> 'due' OR p.planning_opens_at IS NULL OR p.planning_opens_at <= \(DecisionClock.now))
                  AND ($2 <> 'period' OR p.id = $3)
                \(Self.widening)
                RETURNING dossier_id, period_id, child_id
            ), moved AS (
                -- In the same statement: the planning guard (008) finds the rights it opened.
                UPDATE dossier_status SET state = 'planning_open'
                WHERE dossier_id IN (SELECT dossier_id FROM opened) AND state = 'validated'
            )
            SELECT dossier_id, period_id, count(DISTINCT child_id) AS children FROM opened GROUP BY 1, 2
            """, [dossierIDs, periods.name, periodID, serviceID, openedBy])
        return try rows.map(Opening.init)
    }

    /// Queues rights opening for the periods of these dossiers whose planning opens later.
    ///
    /// - Returns: the queue rows added.
    @discardableResult
    func scheduleRights(_ dossierIDs: [Int64]) throws -> Int {
        guard !dossierIDs.isEmpty else { return 0 }
        return try connection.query(
            """
            INSERT INTO dossier_queue (dossier_id, job, period_id, run_at)
            SELECT d.id, 'open_rights', p.id, p.planning_opens_at
            FROM dossier_records d
            JOIN structures s ON s.id = d.structure_id
            JOIN periods p ON p.structure_id = d.structure_id
            WHERE d.id = ANY($1::bigint[]) AND p.planning_opens_at > \(DecisionClock.now)
              AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date
            ON CONFLICT DO NOTHING
            """, [dossierIDs]
        ).rowsAffected
    }
}

extension DecisionStore.Opening {
    /// A row of an opening statement: dossier_id, period_id, children.
    init(_ row: Row) throws {
        self.init(
            dossierID: try row.decode("dossier_id"), periodID: try row.decode("period_id"), children: try row.decode("children"))
    }
}

extension DecisionStore {
    /// Queues the opening of one period's rights for these dossiers at `at`; a queued opening of
    /// the same dossier and period is moved to that time (and given its attempts back).
    ///
    /// - Returns: the queue rows written.
    func scheduleRights(_ dossierIDs: [Int64], period periodID: Int64, at: Date) throws -> Int {
        guard !dossierIDs.isEmpty else { return 0 }
        return try connection.query(
            """
            INSERT INTO dossier_queue (dossier_id, job, period_id, run_at)
            SELECT id, 'open_rights', $2, $3 FROM unnest($1::bigint[]) AS id
            ON CONFLICT (dossier_id, job, period_id)
            DO UPDATE SET run_at = EXCLUDED.run_at, attempts = 0, last_error = NULL, failed_at = NULL
            """, [dossierIDs, periodID, at]
        ).rowsAffected
    }
}
