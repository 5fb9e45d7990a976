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
}

/// Writes decisions and opens reservation rights: the SQL shared by workers and administrators.
struct DecisionStore {
    let connection: Connection

    /// Records each decision and moves each dossier to its outcome's state, for dossiers still in
    /// `expectedState` (the dossier_events trigger writes the audit rows).
    ///
    /// - Returns: the new decision ids, by dossier id.
    func record(_ decisions: [DecisionRecord], decidedBy: String, expectedStates: [DossierState]) throws -> [Int64: Int64] {
        guard !decisions.isEmpty else { return [:] }
        let findings = try decisions.map { String(decoding: try JSONEncoder().encode($0.findings), as: UTF8.self) }
        let rows = try connection.query(
            """
            WITH input AS (
                SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])
                    AS i(dossier_id, outcome, findings, reason)
            )
            INSERT INTO decisions (dossier_id, dossier_version, outcome, findings, reason, rules_version,
                                   content_sha256, decided_by)
            SELECT d.id, s.version, i.outcome::decision_outcome, i.findings::jsonb, nullif(i.reason, ''), $5,
                   encode(sha256(convert_to(d.content::text, 'UTF8')), 'hex'), $6
            FROM input i JOIN dossier_status s ON s.dossier_id = i.dossier_id JOIN dossier_records d ON d.id = i.dossier_id
            WHERE s.state::text = ANY($7::text[])
            RETURNING id, dossier_id
            """,
            [
                decisions.map(\.dossierID), decisions.map(\.outcome.rawValue), findings,
                decisions.map { $0.reason ?? "" }, CompletenessRules.version, decidedBy,
                expectedStates.map(\.rawValue),
            ])
        var decided: [Int64: Int64] = [:]
        for row in rows { decided[try row.decode("dossier_id")] = try row.decode("id") }
        let moved = decisions.filter { decided[$0.dossierID] != nil }
        try connection.query(
            """
            UPDATE dossier_status s SET state = i.state::dossier_state
            FROM unnest($1::bigint[], $2::text[]) AS i(dossier_id, state)
            WHERE s.dossier_id = i.dossier_id
            """, [moved.map(\.dossierID), moved.map(\.outcome.state.rawValue)])
        return decided
    }

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
    }

    /// Opens reservation rights for each child of these validated dossiers, for the services it
    /// asked for (all when none) and the selected periods, then moves the dossiers to
    /// `planning_open`. Rights already open are left as they are.
    ///
    /// - Returns: the (dossier, period) pairs where something opened, for the planning-open emails.
    func openRights(_ dossierIDs: [Int64], periods: PeriodSelection, serviceID: Int64? = nil, openedBy: String) throws -> [Opening] {
        guard !dossierIDs.isEmpty else { return [] }
        let (mode, periodID): (String, Int64?) =
            switch periods {
            case .current: ("current", nil)
            case .due: ("due", nil)
            case .period(let id): ("period", id)
            }
        let rows = try connection.query(
            """
            WITH opened AS (
                INSERT INTO reservation_rights (child_id, dossier_id, structure_id, service_id, period_id, opened_by)
                SELECT c.id, d.id, d.structure_id, v.id, p.id, $5
                FROM dossier_records d
                JOIN dossier_status ds ON ds.dossier_id = d.id
                JOIN structures s ON s.id = d.structure_id
                JOIN children c ON c.dossier_id = d.id
                JOIN services v ON v.structure_id = d.structure_id AND (c.services IS NULL OR v.code = ANY (c.services))
                JOIN periods p ON p.structure_id = d.structure_id
                WHERE d.id = ANY($1::bigint[]) AND ds.state IN ('validated', 'planning_open')
                  AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date
                  AND ($2 <> 'due' OR p.planning_opens_at IS NULL OR p.planning_opens_at <= \(DecisionClock.now))
                  AND ($2 <> 'period' OR p.id = $3)
                  AND ($4::bigint IS NULL OR v.id = $4)
                ON CONFLICT DO NOTHING
                RETURNING dossier_id, period_id, child_id
            )
            SELECT dossier_id, period_id, count(DISTINCT child_id) AS children FROM opened GROUP BY 1, 2
            """, [dossierIDs, mode, periodID, serviceID, openedBy])
        let openings = try rows.map {
            Opening(dossierID: try $0.decode("dossier_id"), periodID: try $0.decode("period_id"), children: try $0.decode("children"))
        }
        try connection.query(
            "UPDATE dossier_status SET state = 'planning_open' WHERE dossier_id = ANY($1::bigint[]) AND state = 'validated'",
            [Array(Set(openings.map(\.dossierID)))])
        return openings
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
