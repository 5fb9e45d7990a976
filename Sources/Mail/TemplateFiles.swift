import Foundation

/// The files of a template directory as text: what the outbox stores beside the emails rendered
/// with them, so that an email decided with a set of templates is rendered with that set on
/// whichever host sends it.
///
/// Paths are relative to the directory: `email-template.xsd`, `<kind>.<lang>.xml`, and
/// `<structure-code>/<kind>.<lang>.xml`. Nothing else is kept, and nothing else is accepted back:
/// a stored set comes from the database, where another login could have written it.
public struct TemplateFiles: Sendable, Equatable {
    /// Each file's relative path and its text.
    public private(set) var files: [String: String]

    /// Reads the schema and every template file of `directory` (those ``TemplateLibrary`` loads).
    /// - Throws: ``TemplateError`` `.unreadable` for a file that cannot be read as UTF-8.
    public init(directory: String, templateFiles: [String]) throws(TemplateError) {
        var files: [String: String] = [:]
        for path in ["\(directory)/email-template.xsd"] + templateFiles {
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
    /// - Throws: ``TemplateError`` `.invalidTemplate` for anything but a JSON object of relative
    ///   paths this type would have written.
    public init(archive: [UInt8]) throws(TemplateError) {
        guard let files = try? JSONDecoder().decode([String: String].self, from: Data(archive)) else {
            throw TemplateError(code: .invalidTemplate, file: "(stored template set)", reason: "not a JSON object of files")
        }
        if let path = files.keys.sorted().first(where: { !Self.isAcceptedPath($0) }) {
            throw TemplateError(
                code: .invalidTemplate, file: "(stored template set)",
                reason: "\(path.debugDescription) is not a template path: expected email-template.xsd, "
                    + "<kind>.<lang>.xml or <structure-code>/<kind>.<lang>.xml")
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

    /// One or two plain names (letters, digits, `.`, `_`, `-`, not starting with a dot): never
    /// `..`, never absolute, never deeper than a structure's folder.
    static func isAcceptedPath(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        return (1...2).contains(components.count)
            && components.allSatisfy { name in
                !name.isEmpty && name.first != "."
                    && name.unicodeScalars.allSatisfy {
                        ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
                            || "._-".unicodeScalars.contains($0)
                    }
            }
    }
}
