/// Why a byte sequence is not a JSON text (RFC 8259), and where.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 0-based byte offset of the offending byte (the input's length when it ends too early).
    public var offset: Int
    /// The 1-based line of ``offset`` (lines end at LF).
    public var line: Int
    /// The 1-based column of ``offset`` on its line, counted in characters (Unicode scalars), as an
    /// editor shows it.
    public var column: Int
    /// What is wrong, in English, for the administrator who reads the import report
    /// (`duplicate key "email"`, `invalid UTF-8 byte 0xC3`).
    public var reason: String

    public init(offset: Int, line: Int = 1, column: Int, reason: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        "invalid JSON at line \(line), column \(column) (byte \(offset)): \(reason)"
    }
}
