import Dossiers
import Foundation
import Mail
import Postgres

/// Writes the family's emails into `email_outbox`, in the transaction of the decision or the
/// opening that causes them: a decision without its email, or an email without its decision,
/// cannot exist. A row keeps what is particular to its email and the template set it is rendered
/// with (``EmailRenderer``, when it is exported or sent).
public final class EmailOutbox: FamilyNotifier {
    package let templates: TemplateLibrary
    let templateSet: StoredTemplateSet

    /// - Parameter templates: loaded and validated at start, so a broken template stops a worker
    ///   before it decides anything.
    public init(templates: TemplateLibrary) {
        self.templates = templates
        self.templateSet = StoredTemplateSet(templates)
    }

    /// Loads `config/templates` (or `directory`), refusing to start on a broken template.
    public convenience init(directory: String? = nil) throws {
        self.init(templates: try EmailTemplates.library(directory))
    }

    /// Writes a worker batch's emails in one statement.
    func notify(openings: [DecisionStore.Opening], built: [FamilyEmailStore.BuiltEmail], on connection: Connection) throws {
        try FamilyEmailStore(connection: connection).insert(
            decisions: [], openings: openings, built: built, templates: templateSet)
    }

    /// Writes the dossier-processed emails of these new decisions and returns how many were written
    /// (none for a decision the family is not told of).
    func writeDecisionsRecorded(_ decisionIDs: [Int64], on connection: Connection) throws -> Int {
        try FamilyEmailStore(connection: connection).insert(decisions: decisionIDs, openings: [], templates: templateSet)
            .dossierProcessed
    }

    /// Writes the planning-open emails of these openings and returns how many were new (a dossier
    /// and period already mailed is skipped by the outbox's unique index).
    func writeRightsOpened(_ openings: [DecisionStore.Opening], on connection: Connection) throws -> Int {
        try FamilyEmailStore(connection: connection).insert(decisions: [], openings: openings, templates: templateSet)
            .planningOpen
    }
}

extension EmailOutbox {
    /// Renders `kind` for an existing dossier without storing it, with these templates: its last
    /// decision for dossier-processed, its first period with rights for planning-open.
    func preview(_ kind: EmailKind, externalID: String, on connection: Connection) throws -> RenderedEmail {
        let store = FamilyEmailStore(connection: connection)
        guard let dossierID = try store.dossierID(externalID: externalID) else {
            throw BackOfficeError(.notFound, "no dossier \(externalID)")
        }
        let email: StoredEmail?
        switch kind {
        case .dossierProcessed:
            guard let decisionID = try store.lastToldDecision(ofDossier: dossierID) else {
                throw BackOfficeError(.refused, "dossier \(externalID) has no decision the family is told of yet")
            }
            email = try store.preview(decision: decisionID, opening: nil)
        case .planningOpen:
            guard let periodID = try store.firstPeriodWithRights(ofDossier: dossierID) else {
                throw BackOfficeError(.refused, "dossier \(externalID) has no reservation rights yet")
            }
            email = try store.preview(decision: nil, opening: .init(dossierID: dossierID, periodID: periodID, children: 0))
        }
        guard let email else {
            throw BackOfficeError(.refused, "nothing to render for \(externalID)")
        }
        return try EmailRenderer(previewTemplates: templates).render(email, on: connection)
    }
}
