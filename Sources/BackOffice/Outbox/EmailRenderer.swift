import Dossiers
import Foundation
import Mail
import Postgres

/// Renders outbox rows into messages: for the export, the sender, `outbox show` and `outbox list`.
///
/// A row written since 029 is rendered from its particulars with the template set it names,
/// loaded from `email_template_sets` once per renderer; rendering is deterministic, so a row
/// gives the same bytes at every render. A row from before 029 is its stored message.
/// Safe to share between threads (the sender's lanes share one).
final class EmailRenderer: @unchecked Sendable {
    /// The templates a preview renders with, instead of a stored set.
    private let previewTemplates: TemplateLibrary?
    private let lock = NSLock()
    /// Template libraries by their set's SHA-256.
    private var libraries: [[UInt8]: TemplateLibrary] = [:]

    init(previewTemplates: TemplateLibrary? = nil) {
        self.previewTemplates = previewTemplates
    }

    /// The message of `email`; `connection` reads its template set the first time it is needed.
    /// - Throws: ``BackOfficeError`` `.failure` naming the email when it cannot be rendered.
    func render(_ email: StoredEmail, on connection: Connection) throws -> RenderedEmail {
        try Self.render(email, with: try templates(for: email, on: connection))
    }

    /// The messages of `emails`, in order, rendered on every core: the export's batches. The
    /// template sets they name are loaded first, on `connection` (which one thread uses at a time).
    func render(_ emails: [StoredEmail], on connection: Connection) -> [Result<RenderedEmail, any Error>] {
        let templates = emails.map { email in Result { try self.templates(for: email, on: connection) } }
        let results = RenderedBatch(count: emails.count)
        DispatchQueue.concurrentPerform(iterations: emails.count) { index in
            results.set(index, Result { try Self.render(emails[index], with: try templates[index].get()) })
        }
        return results.all
    }

    /// The templates `email` is rendered with: its stored set, or the preview's; none for a row
    /// from before 029.
    private func templates(for email: StoredEmail, on connection: Connection) throws -> TemplateLibrary? {
        guard case .particulars(_, let templateSet) = email.content else { return nil }
        if let templateSet { return try library(templateSet, on: connection, for: email) }
        guard let previewTemplates else { throw BackOfficeError(.failure, "email \(email.id) names no template set") }
        return previewTemplates
    }

    private static func render(_ email: StoredEmail, with templates: TemplateLibrary?) throws -> RenderedEmail {
        do {
            switch email.content {
            case .rendered(let bytes, let subject):
                let parts = try ComposedMessageParts(reading: bytes)
                return RenderedEmail(
                    messageID: email.messageID, from: email.sender, to: email.recipient, subject: subject, text: parts.text,
                    html: parts.html, headers: parts.headers, bytes: bytes)
            case .particulars(let particulars, _):
                guard let templates else { throw BackOfficeError(.failure, "email \(email.id) has no templates") }
                let particulars = try EmailParticulars(json: particulars, email: email.id)
                return try templates.render(
                    email.kind, context: try context(email, particulars), messageID: email.messageID, date: email.createdAt)
            }
        } catch let error as BackOfficeError {
            throw error
        } catch {
            throw BackOfficeError(.failure, "email \(email.id) cannot be rendered: \(error)", underlying: error)
        }
    }

    /// Everything the templates show: the particulars, the structure and, by kind, the decision or
    /// the period with each child's calendars.
    static func context(_ email: StoredEmail, _ particulars: EmailParticulars) throws -> EmailContext {
        let language = Language(rawValue: particulars.language) ?? .fr
        var context = EmailContext(
            language: language, dossierExternalID: particulars.dossier,
            account: Person(firstName: particulars.firstName, lastName: particulars.lastName, email: email.recipient),
            structure: email.structure)
        switch email.kind {
        case .dossierProcessed:
            guard let decision = email.decision else {
                throw BackOfficeError(.failure, "email \(email.id) cannot be rendered: its decision is gone")
            }
            context.outcome = decision.outcome
            context.children = particulars.children.map { ChildInfo(firstName: $0.firstName, lastName: $0.lastName) }
            context.reasons = decision.findings.map { $0.message(in: language) } + [decision.reason].compactMap { $0 }
            context.reasonActions = decision.findings.map { CompletenessRules.action(for: $0.code, in: language) ?? "" }
            if decision.outcome == .validated { context.nextStep = nextStep(particulars.nextStep) }
        case .planningOpen:
            guard let period = email.period else {
                throw BackOfficeError(.failure, "email \(email.id) cannot be rendered: its period is gone")
            }
            context.period = period
            let shownFrom = particulars.shownFrom.flatMap { CalendarDate(iso: $0) } ?? period.startsOn
            let window = PlanningGrid.announcedDays(startsOn: shownFrom, endsOn: period.endsOn)
            context.children = particulars.children.map { child in
                let services = child.services ?? []
                var info = ChildInfo(firstName: child.firstName, lastName: child.lastName, services: services.map(\.label))
                info.calendars = services.map { service in
                    // Every day drawn lies in the period, whose rights this email announces.
                    PlanningGrid(
                        title: service.label, from: window.first, through: window.last, runsOn: service.weekdays,
                        reserved: Set(service.reserved.compactMap { CalendarDate(iso: $0) }),
                        period: { .init(isClosed: email.closedDays.contains($0), hasRights: true) })
                }
                return info
            }
            context.services = Array(Set(context.children.flatMap(\.services))).sorted()
        }
        return context
    }

    /// `now`, `manual`, or the epoch seconds of the next opening (``FamilyEmailStore``).
    private static func nextStep(_ stored: String?) -> NextStep {
        switch stored {
        case "now": .now
        case let seconds?: Double(seconds).map { .on(Date(timeIntervalSince1970: $0)) } ?? .byStructure
        case nil: .byStructure
        }
    }

    /// The library of a stored set, loaded from the database the first time: its files are written
    /// to a private temporary directory, loaded and validated as any template directory, then
    /// removed.
    private func library(_ sha256: [UInt8], on connection: Connection, for email: StoredEmail) throws -> TemplateLibrary {
        if let library = lock.withLock({ libraries[sha256] }) { return library }
        let name = sha256.prefix(6).map { String(format: "%02x", $0) }.joined()
        guard let archive = try OutboxStore(connection: connection).templateSet(sha256) else {
            throw BackOfficeError(.failure, "email \(email.id) names template set \(name)…, which is not stored")
        }
        let directory = try makePrivateTemporaryDirectory(prefix: "eticket-templates")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library: TemplateLibrary
        do {
            try TemplateFiles(archive: archive).write(into: directory)
            library = try TemplateLibrary(directory: directory, requireAllDefaults: false)
        } catch {
            throw BackOfficeError(
                .failure, "template set \(name)… of email \(email.id) does not load: \(error)", underlying: error)
        }
        lock.withLock { libraries[sha256] = library }
        return library
    }
}

/// The results of a concurrent render, each slot written by one iteration.
private final class RenderedBatch: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<RenderedEmail, any Error>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<RenderedEmail, any Error>) { lock.withLock { results[index] = result } }

    var all: [Result<RenderedEmail, any Error>] { lock.withLock { results.map { $0! } } }
}

/// A template library's files as the outbox stores them (`email_template_sets`): their archive and
/// its SHA-256, which the database takes again of what it stores.
struct StoredTemplateSet: Sendable {
    let archive: [UInt8]
    let sha256: [UInt8]

    init(_ templates: TemplateLibrary) {
        archive = templates.sources.archive
        sha256 = SHA256.digest(archive)
    }
}
