import Dossiers
import Foundation
import Mail

/// The email templates, for `eticket templates check` and `preview`.
public enum EmailTemplates {
    /// `config/templates`, or `directory` when given.
    public static func directory(_ directory: String? = nil) throws -> String {
        guard let directory = directory ?? ProjectFiles.directory("config").map({ "\($0)/templates" }) else {
            throw BackOfficeError(.failure, "the email templates were not found (config/templates); set ETICKET_HOME")
        }
        return directory
    }

    /// Every problem of every template, each as `file:line: reason`; empty when all are good.
    public static func check(directory: String? = nil) throws -> (files: [String], problems: [String]) {
        let directory = try Self.directory(directory)
        let problems = TemplateLibrary.check(directory: directory).map(\.description)
        let files = (try? TemplateLibrary(directory: directory, requireAllDefaults: false).files) ?? []
        return (files, problems)
    }

    /// The kinds of email, by their template names.
    public static let kinds = EmailKind.allCases.map(\.rawValue)

    /// Renders `kind` for an invented family (accents, an apostrophe, two children), to see a
    /// template as a family would.
    public static func previewExample(
        kind: String, language: String, outcome: String, structure: String = "example", directory: String? = nil
    ) throws -> [UInt8] {
        guard let kind = EmailKind(rawValue: kind) else {
            throw BackOfficeError(.badInput, "unknown email kind \(kind): one of \(kinds.joined(separator: ", "))")
        }
        guard let language = Language(rawValue: language) else {
            throw BackOfficeError(.badInput, "unknown language \(language): fr or en")
        }
        guard let outcome = Outcome(rawValue: outcome), outcome.notifiesFamily else {
            throw BackOfficeError(.badInput, "unknown outcome \(outcome): validated, returned or rejected")
        }
        let library = try library(directory)
        var context = EmailContext(
            language: language, dossierExternalID: "VLF-0042",
            account: Person(firstName: "Siobhán", lastName: "O'Connor", email: "famille.o-connor@example.org"),
            familyName: "O'Connor",
            structure: StructureInfo(
                code: structure, name: "Mairie de Villefranche — Service Enfance",
                portalURL: "https://portail-famille.example/villefranche", senderName: "Service Enfance",
                senderEmail: "enfance@villefranche.example", replyTo: nil, timeZone: "Europe/Paris"))
        context.outcome = outcome
        context.children = [
            ChildInfo(firstName: "Zoé", lastName: "O'Connor", services: ["Restauration scolaire", "Accueil du mercredi"]),
            ChildInfo(firstName: "Noé", lastName: "O'Connor", services: ["Restauration scolaire"]),
        ]
        context.services = ["Accueil du mercredi", "Restauration scolaire"]
        if outcome == .returned {
            context.reasons = [
                language == .fr
                    ? "Aucun responsable légal n'est désigné comme payeur." : "No legal guardian is named as payer."
            ]
        }
        if let startsOn = CalendarDate(iso: "2026-09-01"), let endsOn = CalendarDate(iso: "2027-07-03") {
            context.period = PeriodInfo(label: "Année scolaire 2026-2027", startsOn: startsOn, endsOn: endsOn)
        }
        return try library.render(kind, context: context, messageID: makeMessageID(senderEmail: "enfance@villefranche.example"), date: Date())
            .bytes
    }

    static func library(_ directory: String?) throws -> TemplateLibrary {
        let directory = try Self.directory(directory)
        do {
            return try TemplateLibrary(directory: directory)
        } catch {
            throw BackOfficeError(.badInput, error.description, underlying: error)
        }
    }
}

extension Administration {
    /// Renders `kind` for an existing dossier, as it would be sent, without storing it.
    public func previewEmail(kind: String, dossier externalID: String, templates directory: String? = nil) throws -> [UInt8] {
        guard let kind = EmailKind(rawValue: kind) else {
            throw BackOfficeError(.badInput, "unknown email kind \(kind): one of \(EmailTemplates.kinds.joined(separator: ", "))")
        }
        let outbox = EmailOutbox(templates: try EmailTemplates.library(directory))
        return try database("cannot render the email") {
            try outbox.preview(kind, externalID: externalID, on: connection).bytes
        }
    }
}
