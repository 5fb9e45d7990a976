/// Why a template was refused, with where: the file, the line when known, and a reason written for
/// the administrator who fixes the template.
///
/// A worker refuses to start on a ``TemplateError`` rather than send a broken email.
public struct TemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem; scripts match on it. New codes may be added.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file is not well-formed XML.
        public static let notWellFormed = Code(rawValue: "not_well_formed")
        /// The file does not follow `email-template.xsd`.
        public static let schemaInvalid = Code(rawValue: "schema_invalid")
        /// A `<value of>`, `<if has>` or `<for-each of>` names something templates cannot show,
        /// or shows it outside the loop that defines it.
        public static let unknownPlaceholder = Code(rawValue: "unknown_placeholder")
        /// A construct the schema allows but the template language does not (an `<if>` with two
        /// conditions, a `kind` that disagrees with the file name).
        public static let invalidTemplate = Code(rawValue: "invalid_template")
        /// No template for this kind and language, neither the structure's nor the default.
        public static let missingTemplate = Code(rawValue: "missing_template")
        /// The directory, a file or the schema could not be read.
        public static let unreadable = Code(rawValue: "unreadable")
        /// `email-template.xsd` itself is broken.
        public static let schemaUnusable = Code(rawValue: "schema_unusable")
    }

    public var code: Code
    /// The template file (or directory) concerned.
    public var file: String
    /// The 1-based line in `file`, when known.
    public var line: Int?
    public var reason: String

    public init(code: Code, file: String, line: Int? = nil, reason: String) {
        self.code = code
        self.file = file
        self.line = line
        self.reason = reason
    }

    /// `file:line: reason (code)`, the form compilers use so editors can jump to it.
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(reason) (\(code))"
    }
}
