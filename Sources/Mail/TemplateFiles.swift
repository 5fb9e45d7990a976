import Dossiers
import Foundation

/// The template files of a template directory as text: what the outbox stores beside the emails
/// rendered with them, so that an email decided with a set of templates is rendered with that set
/// on whichever host sends it.
///
/// Paths are relative to the directory: `<kind>.<lang>.xml` and `<structure-code>/<kind>.<lang>.xml`.
/// The schema, `email-template.xsd`, is not part of a set: it belongs to the binary that reads
/// the templates, and the renderer takes its own host's. A stored set comes from the database,
/// where another login could have written it: ``init(archive:)`` accepts template paths only, no
/// DTD or entity declaration (which libxml2 could resolve against the host's files or network),
/// and a bounded size.
public struct TemplateFiles: Sendable, Equatable {
    /// Each file's relative path and its text.
    public private(set) var files: [String: String]

    /// A set holds at most this many files and bytes of text.
    public static let maximumFiles = 500
    public static let maximumBytes = 1 << 20

    /// Reads the template files of `directory` (those ``TemplateLibrary`` loads).
    /// - Throws: ``TemplateError`` `.unreadable` for a file that cannot be read as UTF-8.
    public init(directory: String, templateFiles: [String]) throws(TemplateError) {
        var files: [String: String] = [:]
        for path in templateFiles {
            guard path.hasPrefix(directory + "/"), let data = FileManager.default.contents(atPath: path),
                let text = String(data: data, encoding: .utf8)
            else {
                throw TemplateError(code: .unreadable, file: path, reason: "the file cannot be read as UTF-8 text")
            }
            files[String(path.dropFirst(directory.count + 1))] = text
        }
        self.files = files
    }

    /// The files of a stored ``archive``.
    /// - Throws: ``TemplateError`` `.invalidTemplate` for anything but a JSON object of template
    ///   paths and texts this type would have written, within ``maximumFiles`` and ``maximumBytes``.
    public init(archive: [UInt8]) throws(TemplateError) {
        func refused(_ reason: String) -> TemplateError {
            TemplateError(code: .invalidTemplate, file: "(stored template set)", reason: reason)
        }
        guard archive.count <= Self.maximumBytes + 4096 else { throw refused("larger than \(Self.maximumBytes) bytes") }
        guard let files = try? JSONDecoder().decode([String: String].self, from: Data(archive)) else {
            throw refused("not a JSON object of files")
        }
        guard files.count <= Self.maximumFiles else { throw refused("more than \(Self.maximumFiles) files") }
        if let path = files.keys.sorted().first(where: { !Self.isTemplatePath($0) }) {
            throw refused(
                "\(path.debugDescription) is not a template path: expected <kind>.<lang>.xml or <structure-code>/<kind>.<lang>.xml"
            )
        }
        if let path = files.keys.sorted().first(where: { Self.declaresEntities(files[$0] ?? "") }) {
            throw refused("\(path) declares a DTD or an entity, which no template may")
        }
        self.files = files
    }

    /// A JSON object, keys sorted: the bytes the database stores and takes the digest of.
    public var archive: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a dictionary of strings cannot fail.
        return Array((try? encoder.encode(files)) ?? Data())
    }

    /// Writes the files under `directory` (an empty, private directory), making the structures'
    /// subdirectories.
    public func write(into directory: String) throws {
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let components = path.split(separator: "/")
            if components.count == 2 {
                try FileManager.default.createDirectory(
                    atPath: "\(directory)/\(components[0])", withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            }
            guard
                FileManager.default.createFile(
                    atPath: "\(directory)/\(path)", contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else {
                throw TemplateError(code: .unreadable, file: "\(directory)/\(path)", reason: "the file cannot be written")
            }
        }
    }

    /// `<kind>.<lang>.xml`, or the same in one folder named like a structure code (letters,
    /// digits, `-`, `_`, not starting with a dot): never `..`, never absolute, never deeper.
    static func isTemplatePath(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(components.count), let name = components.last, name.hasSuffix(".xml") else { return false }
        let parts = name.dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, EmailKind(rawValue: String(parts[0])) != nil, Language(rawValue: String(parts[1])) != nil
        else { return false }
        guard components.count == 2 else { return true }
        let folder = components[0]
        return !folder.isEmpty && folder.first != "."
            && folder.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_".unicodeScalars.contains($0)
            }
    }

    /// Whether `text` has a `<!DOCTYPE` or `<!ENTITY`, in any case.
    static func declaresEntities(_ text: String) -> Bool {
        let upper = text.uppercased()
        return upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY")
    }
}
