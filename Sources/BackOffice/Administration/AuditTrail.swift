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
    var verifies: Bool { breaks.isEmpty && anchorBreaks.isEmpty }
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
            let store = AuditStore(connection: connection)
            (report.dossiers, report.events) = try store.counts(structure: structure)
            report.breaks = try store.breaks(structure: structure)
            if let anchors {
                report.anchorBreaks = try anchorBreaks(anchors.filter { structure == nil || $0.structure == structure })
            }
            return report
        }
    }
}
