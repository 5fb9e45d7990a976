import Dossiers
import Foundation
import Mail
import Postgres

/// Renders outbox rows into messages: for the export, the sender, `outbox show` and `outbox list`.
///
/// A row written since 029 is rendered from its particulars with the template set it names,
/// loaded from `email_template_sets` once per renderer and validated by this host's own schema
/// (`email-template.xsd` of the template directory), never one from the database. Rendering is
/// deterministic: a row gives the same bytes at every render while its structure's branding and
/// period stay as they are. A row from before 029 is its stored message.
/// Safe to share between threads (the sender's lanes share one).
final class EmailRenderer: @unchecked Sendable {
    /// The templates a preview renders with, instead of a stored set.
    private let previewTemplates: TemplateLibrary?
    /// The template directory whose `email-template.xsd` validates stored sets; `nil`: the
    /// installation's (``EmailTemplates/directory(_:)``).
    private let schemaDirectory: String?
    private let lock = NSLock()
    /// Each set's library by its SHA-256, or why it cannot be one: a set is loaded once a run.
    private var libraries: [[UInt8]: Result<TemplateLibrary, UnrenderableEmail>] = [:]

    init(previewTemplates: TemplateLibrary? = nil, schemaDirectory: String? = nil) {
        self.previewTemplates = previewTemplates
        self.schemaDirectory = schemaDirectory
    }

    /// The message of `email`; `connection` reads its template set the first time it is needed.
    /// - Throws: ``UnrenderableEmail`` when the email's own content cannot be rendered; any other
    ///   error (the database, the temporary directory) when it could be later.
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
        guard let previewTemplates else { throw UnrenderableEmail(id: email.id, reason: "it names no template set") }
        return previewTemplates
    }

    private static func render(_ email: StoredEmail, with templates: TemplateLibrary?) throws(UnrenderableEmail)
        -> RenderedEmail
    {
        do {
            switch email.content {
            case .rendered(let bytes, let subject):
                // Its bytes go out as they are; a message this parser cannot read leaves only the
                // JSON Lines export's text, html and headers empty.
                let parts = try? ComposedMessageParts(reading: bytes)
                return RenderedEmail(
                    messageID: email.messageID, from: email.sender, to: email.recipient, subject: subject,
                    text: parts?.text ?? "", html: parts?.html ?? "", headers: parts?.headers ?? [], bytes: bytes)
            case .particulars(let particulars, _):
                guard let templates else { throw UnrenderableEmail(id: email.id, reason: "it has no templates") }
                let particulars = try EmailParticulars(json: particulars, email: email.id)
                return try templates.render(
                    email.kind, context: try context(email, particulars), messageID: email.messageID, date: email.createdAt)
            }
        } catch let error as UnrenderableEmail {
            throw error
        } catch {
            throw UnrenderableEmail(id: email.id, reason: "\(error)")
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
            guard let decision = email.decision else { throw UnrenderableEmail(id: email.id, reason: "its decision is gone") }
            let findings: [Finding]
            do {
                findings = try JSONDecoder().decode([Finding].self, from: Data(decision.findings.utf8))
            } catch {
                throw UnrenderableEmail(id: email.id, reason: "its decision's findings are not findings: \(error)")
            }
            context.outcome = decision.outcome
            context.children = particulars.children.map { ChildInfo(firstName: $0.firstName, lastName: $0.lastName) }
            context.reasons = findings.map { $0.message(in: language) } + [decision.reason].compactMap { $0 }
            context.reasonActions = findings.map { CompletenessRules.action(for: $0.code, in: language) ?? "" }
            if decision.outcome == .validated { context.nextStep = nextStep(particulars.nextStep) }
        case .planningOpen:
            guard let period = email.period else { throw UnrenderableEmail(id: email.id, reason: "its period is gone") }
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

    /// The library of a stored set, loaded from the database the first time: its template files
    /// are written to a private temporary directory beside this host's schema, loaded and
    /// validated as any template directory, then removed. A set that does not load is remembered
    /// as such for the renderer's life; a failure of this host (the directory, the schema) is not.
    private func library(_ sha256: [UInt8], on connection: Connection, for email: StoredEmail) throws -> TemplateLibrary {
        if let known = lock.withLock({ libraries[sha256] }) {
            return try known.mapError { UnrenderableEmail(id: email.id, reason: $0.reason) }.get()
        }
        let name = sha256.prefix(6).map { String(format: "%02x", $0) }.joined()
        guard let archive = try OutboxStore(connection: connection).templateSet(sha256) else {
            throw UnrenderableEmail(id: email.id, reason: "its template set \(name)… is not stored")
        }
        let schema = "\(try EmailTemplates.directory(schemaDirectory))/email-template.xsd"
        guard let schemaText = FileManager.default.contents(atPath: schema) else {
            throw BackOfficeError(.failure, "\(schema): the template schema cannot be read")
        }
        let directory = try makePrivateTemporaryDirectory(prefix: "eticket-templates")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files: TemplateFiles
        do {
            files = try TemplateFiles(archive: archive)
        } catch {
            return try remember(sha256, .failure(UnrenderableEmail(id: email.id, reason: "template set \(name)…: \(error)")))
        }
        do {
            try files.write(into: directory)
            try schemaText.write(to: URL(fileURLWithPath: "\(directory)/email-template.xsd"))
        } catch {
            throw BackOfficeError(.failure, "cannot write template set \(name)… to \(directory): \(error)", underlying: error)
        }
        do {
            return try remember(sha256, .success(try TemplateLibrary(directory: directory, requireAllDefaults: false)))
        } catch {
            return try remember(
                sha256, .failure(UnrenderableEmail(id: email.id, reason: "template set \(name)… does not load: \(error)")))
        }
    }

    private func remember(_ sha256: [UInt8], _ library: Result<TemplateLibrary, UnrenderableEmail>) throws -> TemplateLibrary {
        lock.withLock { libraries[sha256] = library }
        return try library.get()
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
