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
        let context = exampleContext(language: language, outcome: outcome, structure: structure)
        return try library.render(
            kind, context: context, messageID: makeMessageID(senderEmail: context.structure.senderEmail), date: Date()
        ).bytes
    }

    /// The invented family of ``previewExample(kind:language:outcome:structure:directory:)``: a
    /// branded structure with its contact, two children with calendars, the findings of a real
    /// returned dossier with what to do about each, a scheduled opening.
    static func exampleContext(language: Language, outcome: Outcome, structure: String = "example") -> EmailContext {
        let day = { (text: String) in CalendarDate(iso: text) ?? CalendarDate(daysSinceEpoch: 0) }
        let startsOn = day("2026-09-01")
        let endsOn = day("2027-07-03")
        let closed: Set<CalendarDate> = [day("2026-09-25")]
        let window = PlanningGrid.announcedDays(startsOn: startsOn, endsOn: endsOn)
        func grid(_ label: String, _ weekdays: [Int]) -> PlanningGrid {
            PlanningGrid(
                title: label, from: window.first, through: window.last, runsOn: weekdays, reserved: []
            ) { .init(isClosed: closed.contains($0), hasRights: true) }
        }
        let canteen = grid("Restauration scolaire", [1, 2, 4, 5])
        let wednesday = grid("Accueil de loisirs du mercredi", [3])
        var context = EmailContext(
            language: language, dossierExternalID: "VLF-0042",
            account: Person(firstName: "Siobhán", lastName: "O'Connor", email: "famille.o-connor@example.org"),
            familyName: "O'Connor",
            structure: StructureInfo(
                code: structure, name: "Mairie de Villefranche — Service Enfance",
                portalURL: "https://portail-famille.example/villefranche", senderName: "Service Enfance",
                senderEmail: "enfance@villefranche.example", replyTo: nil, timeZone: "Europe/Paris",
                branding: Branding(
                    displayName: "Ville de Villefranche · Enfance", accentColor: "#0b6e4f", phone: "04 74 62 00 00",
                    address: "Hôtel de ville, 96 rue de la Sous-Préfecture, 69400 Villefranche-sur-Saône",
                    openingHours: language == .fr
                        ? "du lundi au vendredi, 8 h 30 – 12 h et 13 h 30 – 17 h"
                        : "Monday to Friday, 8:30 – 12:00 and 13:30 – 17:00")))
        context.outcome = outcome
        context.children = [
            ChildInfo(
                firstName: "Zoé", lastName: "O'Connor", services: [wednesday.title, canteen.title],
                calendars: [wednesday, canteen]),
            ChildInfo(firstName: "Noé", lastName: "O'Connor", services: [canteen.title], calendars: [canteen]),
        ]
        context.services = [wednesday.title, canteen.title]
        context.period = PeriodInfo(label: "Année scolaire 2026-2027", startsOn: startsOn, endsOn: endsOn)
        switch outcome {
        case .returned:
            let findings = [
                (
                    "payer.missing", "Aucun responsable légal n'est désigné comme payeur.",
                    "No legal guardian is designated as the payer."
                ),
                (
                    "document.missing", "Justificatif manquant : Attestation d'assurance scolaire.",
                    "Missing supporting document: Attestation d'assurance scolaire."
                ),
            ]
            context.reasons = findings.map { language == .fr ? $0.1 : $0.2 }
            context.reasonActions = findings.map { CompletenessRules.action(for: $0.0, in: language) ?? "" }
        case .rejected:
            context.reasons = [
                language == .fr ? "La famille ne réside pas dans la commune." : "The family does not live in the town."
            ]
        case .validated:
            context.nextStep = .on(Date(timeIntervalSince1970: 1_787_554_800)) // 2026-08-24 09:00 in Paris
        case .awaitingReview:
            break
        }
        return context
    }

    /// Writes the HTML part of a rendered message to `path`, for an administrator to open in a
    /// browser: through a ``SafeDirectory`` (mode 0600, atomically, never through a symbolic link
    /// nor over another user's file), like every file the product writes.
    /// - Returns: the HTML's size in bytes.
    @discardableResult
    public static func writeHTML(of message: [UInt8], to path: String) throws -> Int {
        do {
            let html = Array(try ComposedMessageParts(reading: message).html.utf8)
            let (directory, name) = try SafeDirectory.containing(path, create: false)
            try directory.replace(name, with: html, temporary: ".\(name).tmp-\(getpid())")
            return html.count
        } catch {
            throw BackOfficeError(.failure, "cannot write the HTML preview: \(error)")
        }
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
