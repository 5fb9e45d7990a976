/// A value that can be sent as a statement parameter, in PostgreSQL's text format.
public protocol PostgresBindable {
    /// The value as PostgreSQL's input function for the column type reads it.
    var postgresText: String { get }
}

/// A value that can be read from a column, from PostgreSQL's text output format.
public protocol PostgresDecodable {
    /// Reads the value from the server's text output.
    /// - Throws: ``PostgresDecodingFailure`` saying why the text is not a value of this type.
    init(postgresText: String) throws(PostgresDecodingFailure)
}

/// Why a column's text could not be read as a type. ``Row`` wraps it into a ``PostgresError``
/// naming the column and the type.
public struct PostgresDecodingFailure: Error, CustomStringConvertible, Sendable {
    /// Why the text was refused, without the value itself (it may be personal data).
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

extension String: PostgresBindable, PostgresDecodable {
    public var postgresText: String { self }
    public init(postgresText: String) { self = postgresText }
}

extension Int: PostgresBindable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        guard let value = Int(postgresText) else { throw PostgresDecodingFailure("not an integer in range of Int") }
        self = value
    }
}

extension Int32: PostgresBindable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        guard let value = Int32(postgresText) else { throw PostgresDecodingFailure("not an integer in range of Int32") }
        self = value
    }
}

extension Int64: PostgresBindable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        guard let value = Int64(postgresText) else { throw PostgresDecodingFailure("not an integer in range of Int64") }
        self = value
    }
}

extension Bool: PostgresBindable, PostgresDecodable {
    public var postgresText: String { self ? "t" : "f" }
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresDecodingFailure("not a boolean (expected t or f)")
        }
    }
}

extension Double: PostgresBindable, PostgresDecodable {
    public var postgresText: String {
        // Swift spells these "inf" and "nan"; PostgreSQL's own spellings are unambiguous.
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }

    public init(postgresText: String) throws(PostgresDecodingFailure) {
        switch postgresText {
        case "NaN": self = .nan
        case "Infinity": self = .infinity
        case "-Infinity": self = -.infinity
        default:
            guard let value = Double(postgresText) else { throw PostgresDecodingFailure("not a floating-point number") }
            self = value
        }
    }
}
