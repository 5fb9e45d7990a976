import Foundation
import Postgres

/// A dossier whose history does not verify.
public struct AuditBreak: Sendable, Equatable, Codable {
    public var dossier: String
    /// The first event that does not verify, when one does not.
    public var eventID: Int64?
    public var reason: String
}

/// What `eticket audit verify` found.
public struct AuditReport: Sendable, Equatable, Codable {
    public var dossiers = 0
    public var events = 0
    public var breaks: [AuditBreak] = []
    /// Structures whose chains no longer extend the anchor given to the check, if one was.
    public var anchorBreaks: [AnchorBreak] = []

    /// Whether every history verifies (and extends its anchor).
    public var verifies: Bool { breaks.isEmpty && anchorBreaks.isEmpty }
}

extension Administration {
    /// Recomputes every dossier's event chain (migration 003) and names the dossiers whose history
    /// was altered behind the product's back: an event changed (its hash no longer matches), removed
    /// or reordered (its link no longer points at the event before it), or a history that does not
    /// end in the dossier's current state. Each event's hash covers its login role (migration 003).
    ///
    /// - Parameter anchors: heads taken earlier by ``anchorAudit()``; each anchored structure (of
    ///   `structure`, when given) whose chains no longer extend its anchor is named too.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func verifyAudit(structure: String? = nil, anchors: [AuditAnchor]? = nil) throws -> AuditReport {
        try requireStructure(structure)
        return try database("cannot verify the audit trail") {
            var report = AuditReport()
            let counts = try connection.query(
                """
                SELECT count(DISTINCT e.dossier_id) AS dossiers, count(*) AS events
                FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id JOIN structures s ON s.id = d.structure_id
                WHERE $1::text IS NULL OR s.code = $1
                """, [structure])
            if let row = counts.first {
                report.dossiers = try row.decode("dossiers")
                report.events = try row.decode("events")
            }
            report.breaks = try connection.query(
                """
                WITH chain AS (
                    SELECT e.id, e.dossier_id, e.to_state, e.hash, e.previous_hash,
                           lag(e.hash) OVER (PARTITION BY e.dossier_id ORDER BY e.id) AS expected_previous,
                           dossier_event_digest(e) AS recomputed,
                           row_number() OVER (PARTITION BY e.dossier_id ORDER BY e.id DESC) AS from_end
                    FROM dossier_events e
                ), broken AS (
                    SELECT dossier_id, min(id) AS event_id,
                           bool_or(hash IS DISTINCT FROM recomputed) AS altered,
                           bool_or(previous_hash IS DISTINCT FROM expected_previous) AS unlinked
                    FROM chain
                    WHERE hash IS DISTINCT FROM recomputed OR previous_hash IS DISTINCT FROM expected_previous
                    GROUP BY dossier_id
                ), last AS (
                    SELECT dossier_id, to_state FROM chain WHERE from_end = 1
                )
                SELECT d.external_id, b.event_id,
                       CASE WHEN b.altered THEN 'an event was changed'
                            WHEN b.unlinked THEN 'an event was removed or reordered'
                            WHEN l.to_state IS NULL THEN 'the dossier has no history'
                            ELSE 'the history ends in ' || l.to_state || ' but the dossier is ' || d.state END AS reason
                FROM dossiers d
                JOIN structures s ON s.id = d.structure_id
                LEFT JOIN broken b ON b.dossier_id = d.id
                LEFT JOIN last l ON l.dossier_id = d.id
                WHERE ($1::text IS NULL OR s.code = $1) AND d.state <> 'draft'
                  AND (b.dossier_id IS NOT NULL OR l.to_state IS DISTINCT FROM d.state)
                ORDER BY d.external_id
                """, [structure]
            ).map {
                AuditBreak(dossier: try $0.decode("external_id"), eventID: try $0.decodeIfPresent("event_id"), reason: try $0.decode("reason"))
            }
            if let anchors {
                report.anchorBreaks = try anchorBreaks(anchors.filter { structure == nil || $0.structure == structure })
            }
            return report
        }
    }
}
