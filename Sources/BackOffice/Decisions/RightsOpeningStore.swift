import Dossiers
import Foundation
import Postgres

/// The SQL of `eticket rights open`: what an opening is for (the structure, its period and
/// service, the eligible dossiers) and the queued openings it replaces. Opening and scheduling
/// themselves are ``DecisionStore``'s. Every method runs on the caller's connection, inside the
/// caller's transaction.
struct RightsOpeningStore {
    let connection: Connection

    /// What `rights open` names, found by codes.
    struct Target {
        var structureID: Int64
        var timeZone: String
        /// `nil` when the structure has no such period.
        var periodID: Int64?
        var periodLabel: String?
        /// `nil` when no service was named, or the structure has no such service.
        var serviceID: Int64?
        var serviceLabel: String?
        /// The session's `eticket.actor`, who the opening is recorded as.
        var actor: String
        /// The decision clock's time.
        var now: Date
        /// The structure's validated and planning-open dossiers, by id.
        var eligibleDossiers: [Int64]
    }

    /// The target of an opening, `nil` for an unknown structure.
    func target(structure code: String, period periodCode: String, service serviceCode: String?) throws -> Target? {
        try connection.query(
            """
            SELECT s.id AS structure_id, s.timezone, p.id AS period_id, p.label AS period_label,
                   v.id AS service_id, v.label AS service_label, current_setting('eticket.actor') AS actor,
                   \(DecisionClock.now) AS now,
                   ARRAY(SELECT id FROM dossiers WHERE structure_id = s.id
                         AND state IN ('validated', 'planning_open') ORDER BY id) AS dossiers
            FROM structures s
            LEFT JOIN periods p ON p.structure_id = s.id AND p.code = $2
            LEFT JOIN services v ON v.structure_id = s.id AND v.code = $3
            WHERE s.code = $1
            """, [code, periodCode, serviceCode]
        ).first.map { row in
            Target(
                structureID: try row.decode("structure_id"), timeZone: try row.decode("timezone"),
                periodID: try row.decodeIfPresent("period_id"), periodLabel: try row.decodeIfPresent("period_label"),
                serviceID: try row.decodeIfPresent("service_id"), serviceLabel: try row.decodeIfPresent("service_label"),
                actor: try row.decode("actor"), now: try row.decode("now"), eligibleDossiers: try row.decode("dossiers"))
        }
    }

    /// Deletes the queued openings of the period for these dossiers: opened now, they have nothing
    /// left to do.
    func cancelQueuedOpenings(period periodID: Int64, dossiers dossierIDs: [Int64]) throws {
        try connection.query(
            "DELETE FROM dossier_queue WHERE job = 'open_rights' AND period_id = $1 AND dossier_id = ANY($2::bigint[])",
            [periodID, dossierIDs])
    }

    /// The IANA time zone of the structure `code`, `nil` for an unknown structure.
    func timeZone(ofStructure code: String) throws -> String? {
        try connection.query("SELECT timezone FROM structures WHERE code = $1", [code]).first?.decode("timezone")
    }
}
