import Dossiers
import Foundation

/// Every email template of a configuration directory, loaded and validated once.
///
/// Layout: `directory/email-template.xsd`, `directory/<kind>.<lang>.xml` (the defaults) and
/// `directory/<structure-code>/<kind>.<lang>.xml` (a structure's overrides). Immutable after
/// `init`, so `Sendable`; rendering never touches the XML parser.
public final class TemplateLibrary: Sendable {
    /// The directory loaded.
    public let directory: String
    /// Every template file loaded, sorted: what `eticket templates check` lists.
    public let files: [String]
    /// The schema and template files as loaded: what an outbox row's template set stores.
    public let sources: TemplateFiles
    private let templates: [Key: Template]

    private struct Key: Hashable {
        var structureCode: String?
        var kind: EmailKind
        var language: Language
    }

    /// Loads and validates every template under `directory`, overrides included, and requires a
    /// default template for every kind and language.
    /// - Throws: the first ``TemplateError``, with file, line and reason. ``check(directory:)``
    ///   lists them all.
    public convenience init(directory: String) throws(TemplateError) {
        try self.init(directory: directory, requireAllDefaults: true)
    }

    /// Loads and validates every template under `directory`.
    /// - Parameter requireAllDefaults: when `true`, a missing default (`<kind>.<lang>.xml` for any
    ///   kind and language) refuses the directory; when `false`, it is reported only when asked for.
    public init(directory: String, requireAllDefaults: Bool) throws(TemplateError) {
        let scan = Self.scan(directory: directory, requireAllDefaults: requireAllDefaults)
        if let first = scan.errors.first { throw first }
        self.directory = directory
        self.files = scan.templates.map(\.file).sorted()
        self.sources = try TemplateFiles(directory: directory, templateFiles: files)
        var templates: [Key: Template] = [:]
        for template in scan.templates {
            templates[Key(structureCode: template.structureCode, kind: template.kind, language: template.language)] =
                template
        }
        self.templates = templates
    }

    /// Every problem of the templates under `directory`, in file order; empty when all load.
    public static func check(directory: String) -> [TemplateError] {
        scan(directory: directory, requireAllDefaults: true).errors
    }

    /// The template for a structure: its override when it has one, else the default.
    /// - Throws: ``TemplateError/Code/missingTemplate`` when neither exists.
    public func template(_ kind: EmailKind, language: Language, structureCode: String) throws(TemplateError)
        -> Template
    {
        if let override = templates[Key(structureCode: structureCode, kind: kind, language: language)] {
            return override
        }
        if let fallback = templates[Key(structureCode: nil, kind: kind, language: language)] { return fallback }
        throw TemplateError(
            code: .missingTemplate, file: Self.path(directory, nil, kind, language),
            reason: "no \(kind.rawValue) template in \(language.rawValue) for structure \(structureCode)")
    }

    /// Renders the email of `kind` for `context`: template choice, values, MIME composition.
    /// - Parameters:
    ///   - messageID: `left@right` (angle brackets optional), stored with the outbox row so the
    ///     same row always produces the same id; ``makeMessageID(senderEmail:uuid:)`` makes one.
    ///   - date: the `Date` header, written in the structure's time zone.
    /// - Throws: ``TemplateError`` (no template) or ``MailError`` (an unusable address,
    ///   Message-ID or time zone).
    public func render(_ kind: EmailKind, context: EmailContext, messageID: String, date: Date) throws
        -> RenderedEmail
    {
        let template = try template(kind, language: context.language, structureCode: context.structure.code)
        let content = template.renderBytes(context)
        guard let timeZone = TimeZone(identifier: context.structure.timeZone) else {
            throw MailError(
                code: .invalidTimeZone,
                reason:
                    "unknown time zone \(context.structure.timeZone.debugDescription) for structure \(context.structure.code)"
            )
        }
        let structure = context.structure
        let account = context.account
        let message = try MIMEMessage.compose(
            from: Mailbox(name: structure.senderName, address: structure.senderEmail),
            replyTo: structure.replyTo.map { Mailbox(name: structure.senderName, address: $0) }, to: account.email,
            subject: content.subject, date: date, timeZone: timeZone, messageID: messageID,
            language: context.language, text: content.text, html: content.html
        ) { name in
            // "First Last" made one line, without a `String` for it.
            let start = name.count
            name.append(contentsOf: account.firstName.utf8)
            name.append(0x20)
            name.append(contentsOf: account.lastName.utf8)
            UTF8Text.makeSingleLine(&name, from: start)
        }
        return RenderedEmail(
            messageID: message.messageID, from: structure.senderEmail,
            to: account.email, subject: String(decoding: content.subject, as: UTF8.self),
            text: String(decoding: content.text, as: UTF8.self), html: String(decoding: content.html, as: UTF8.self),
            headers: message.headers, bytes: message.bytes)
    }

    private static func path(_ directory: String, _ structureCode: String?, _ kind: EmailKind, _ language: Language)
        -> String
    {
        let name = "\(kind.rawValue).\(language.rawValue).xml"
        return structureCode.map { "\(directory)/\($0)/\(name)" } ?? "\(directory)/\(name)"
    }

    private static func scan(directory: String, requireAllDefaults: Bool) -> (
        templates: [Template], errors: [TemplateError]
    ) {
        var templates: [Template] = []
        var errors: [TemplateError] = []
        let schema: TemplateSchema
        do {
            schema = try TemplateSchema(path: "\(directory)/email-template.xsd")
        } catch {
            return ([], [error])
        }
        let loader = TemplateLoader(schema: schema)
        let fileManager = FileManager.default
        guard let entries = try? fileManager.contentsOfDirectory(atPath: directory) else {
            return (
                [], [TemplateError(code: .unreadable, file: directory, reason: "the template directory cannot be read")]
            )
        }

        func loadFiles(in folder: String, structureCode: String?) {
            guard let names = try? fileManager.contentsOfDirectory(atPath: folder) else {
                errors.append(TemplateError(code: .unreadable, file: folder, reason: "the directory cannot be read"))
                return
            }
            for name in names.sorted() where name.hasSuffix(".xml") && !name.hasPrefix(".") {
                let file = "\(folder)/\(name)"
                let parts = name.dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
                guard parts.count == 2, let kind = EmailKind(rawValue: String(parts[0])),
                    let language = Language(rawValue: String(parts[1]))
                else {
                    errors.append(
                        TemplateError(
                            code: .invalidTemplate, file: file,
                            reason: "not a template name: expected <kind>.<lang>.xml with kind in "
                                + "\(EmailKind.allCases.map(\.rawValue).joined(separator: ", ")) and lang in "
                                + Language.allCases.map(\.rawValue).joined(separator: ", ")))
                    continue
                }
                do {
                    templates.append(
                        try loader.load(file: file, kind: kind, language: language, structureCode: structureCode))
                } catch {
                    errors.append(error)
                }
            }
        }

        loadFiles(in: directory, structureCode: nil)
        for entry in entries.sorted() where !entry.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            let path = "\(directory)/\(entry)"
            if fileManager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                loadFiles(in: path, structureCode: entry)
            }
        }
        if requireAllDefaults {
            for kind in EmailKind.allCases {
                for language in Language.allCases
                where !templates.contains(where: {
                    $0.structureCode == nil && $0.kind == kind && $0.language == language
                }) {
                    let file = path(directory, nil, kind, language)
                    if !errors.contains(where: { $0.file == file }) {
                        errors.append(
                            TemplateError(
                                code: .missingTemplate, file: file,
                                reason: "the default \(kind.rawValue) template in \(language.rawValue) is missing"))
                    }
                }
            }
        }
        return (templates, errors)
    }
}
