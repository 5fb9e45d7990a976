import Dossiers
import Foundation
import Mail
import Postgres

/// Renders the family's emails into `email_outbox`, in the transaction of the decision or the
/// opening that causes them: a decision without its email, or an email without its decision,
/// cannot exist.
public final class EmailOutbox: FamilyNotifier {
    package let templates: TemplateLibrary

    /// - Parameter templates: loaded and validated at start, so a broken template stops a worker
    ///   before it decides anything.
    public init(templates: TemplateLibrary) {
        self.templates = templates
    }

    /// Loads `config/templates` (or `directory`), refusing to start on a broken template.
    public convenience init(directory: String? = nil) throws {
        self.init(templates: try EmailTemplates.library(directory))
    }

    /// Renders the emails of the batch's decisions and openings and writes them in one statement.
    func notify(decisions decisionIDs: [Int64], openings: [DecisionStore.Opening], on connection: Connection) throws {
        try insert(
            try render(decisions: decisionIDs, on: connection) + render(openings: openings, on: connection), on: connection)
    }

    func decisionsRecorded(_ decisionIDs: [Int64], on connection: Connection) throws {
        try insert(try render(decisions: decisionIDs, on: connection), on: connection)
    }

    func rightsOpened(_ openings: [DecisionStore.Opening], on connection: Connection) throws {
        try insert(try render(openings: openings, on: connection), on: connection)
    }

    func render(decisions decisionIDs: [Int64], on connection: Connection) throws -> [PendingEmail] {
        try FamilyEmailStore(connection: connection).decisionEmails(decisionIDs).map { decision in
            var context = decision.context
            context.reasons = decision.findings.map { $0.message(in: context.language) } + [decision.reason].compactMap { $0 }
            context.reasonActions = decision.findings.map { CompletenessRules.action(for: $0.code, in: context.language) ?? "" }
            if decision.outcome == .validated {
                context.nextStep = decision.nextStep
            }
            return PendingEmail(
                dossierID: decision.dossierID, structureID: decision.structureID, kind: .dossierProcessed,
                decisionID: decision.decisionID, periodID: nil, email: try render(.dossierProcessed, context))
        }
    }

    func render(openings: [DecisionStore.Opening], on connection: Connection) throws -> [PendingEmail] {
        let store = FamilyEmailStore(connection: connection)
        let emails = try store.openingEmails(openings)
        guard !emails.isEmpty else { return [] }
        let rights = try store.childrenRights(openings)
        return try emails.map { opening in
            var context = opening.context
            context.period = opening.period
            let window = PlanningGrid.announcedDays(startsOn: opening.shownFrom, endsOn: opening.period.endsOn)
            let key = FamilyEmailStore.PeriodKey(dossierID: opening.dossierID, periodID: opening.periodID)
            context.children = (rights[key] ?? []).map { child in
                var info = ChildInfo(firstName: child.firstName, lastName: child.lastName, services: child.services.map(\.label))
                info.calendars = child.services.map { service in
                    // Every day drawn lies in the period, whose rights this email announces.
                    PlanningGrid(
                        title: service.label, from: window.first, through: window.last, runsOn: service.weekdays,
                        reserved: service.reserved,
                        period: { .init(isClosed: opening.closedDates.contains($0), hasRights: true) })
                }
                return info
            }
            context.services = Array(Set(context.children.flatMap(\.services))).sorted()
            return PendingEmail(
                dossierID: opening.dossierID, structureID: opening.structureID, kind: .planningOpen,
                decisionID: nil, periodID: opening.periodID, email: try render(.planningOpen, context))
        }
    }

    // MARK: - Writing

    typealias PendingEmail = FamilyEmailStore.PendingEmail

    private func render(_ kind: EmailKind, _ context: EmailContext) throws -> RenderedEmail {
        try templates.render(
            kind, context: context, messageID: makeMessageID(senderEmail: context.structure.senderEmail), date: Date())
    }

    func insert(_ emails: [PendingEmail], on connection: Connection) throws {
        try FamilyEmailStore(connection: connection).insert(emails)
    }
}

extension EmailOutbox {
    /// Renders `kind` for an existing dossier without storing it: its last decision for
    /// dossier-processed, its first period with rights for planning-open.
    func preview(_ kind: EmailKind, externalID: String, on connection: Connection) throws -> RenderedEmail {
        let store = FamilyEmailStore(connection: connection)
        guard let dossierID = try store.dossierID(externalID: externalID) else {
            throw BackOfficeError(.notFound, "no dossier \(externalID)")
        }
        let rendered: [PendingEmail]
        switch kind {
        case .dossierProcessed:
            guard let decisionID = try store.lastToldDecision(ofDossier: dossierID) else {
                throw BackOfficeError(.refused, "dossier \(externalID) has no decision the family is told of yet")
            }
            rendered = try render(decisions: [decisionID], on: connection)
        case .planningOpen:
            guard let periodID = try store.firstPeriodWithRights(ofDossier: dossierID) else {
                throw BackOfficeError(.refused, "dossier \(externalID) has no reservation rights yet")
            }
            rendered = try render(openings: [.init(dossierID: dossierID, periodID: periodID, children: 0)], on: connection)
        }
        guard let email = rendered.first?.email else {
            throw BackOfficeError(.refused, "nothing to render for \(externalID)")
        }
        return email
    }
}
