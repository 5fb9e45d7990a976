/// A type whose Swift arrays map to one PostgreSQL value.
///
/// Swift allows `Array` only one conditional conformance to a protocol, so `[String]`, `[Int]`
/// and `[UInt8]` cannot each conform to ``PostgresBindable`` on their own terms. Instead the
/// element decides: most elements give a PostgreSQL array literal (`{"a","b"}`), and `UInt8`
/// gives `bytea`.
public protocol PostgresArrayElement {
    /// The text of a whole array of these elements.
    static func postgresText(ofArray elements: [Self]) -> String
    /// Reads a whole array of these elements.
    /// - Throws: ``PostgresDecodingFailure`` when the text is not such an array.
    static func postgresArray(fromText text: String) throws(PostgresDecodingFailure) -> [Self]
}

extension Array: PostgresBindable where Element: PostgresArrayElement {
    public var postgresText: String { Element.postgresText(ofArray: self) }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        self = try Element.postgresArray(fromText: postgresText)
    }
}

/// One-dimensional PostgreSQL array literals, every element quoted so that commas, braces,
/// quotes, backslashes, spaces and the word NULL stay data. NULL elements are not supported.
extension PostgresArrayElement where Self: PostgresBindable & PostgresDecodable {
    public static func postgresText(ofArray elements: [Self]) -> String {
        // In UTF-8 bytes, into one buffer: a worker sends a batch's rendered emails this way (about
        // 1 MB per batch), and appending scalar by scalar to a String was a quarter of its time.
        // `"` and `\` are ASCII, so no byte of a multi-byte character can be taken for them.
        var text: [UInt8] = [UInt8(ascii: "{")]
        for (index, element) in elements.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text.append(UInt8(ascii: "\""))
            var value = element.postgresText
            value.withUTF8 { bytes in
                if !bytes.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                    text.append(contentsOf: bytes)
                    return
                }
                for byte in bytes {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { text.append(UInt8(ascii: "\\")) }
                    text.append(byte)
                }
            }
            text.append(UInt8(ascii: "\""))
        }
        text.append(UInt8(ascii: "}"))
        return String(decoding: text, as: UTF8.self)
    }

    public static func postgresArray(fromText text: String) throws(PostgresDecodingFailure) -> [Self] {
        try parseArrayLiteral(text).map { (element) throws(PostgresDecodingFailure) in
            do throws(PostgresDecodingFailure) {
                return try Self(postgresText: element)
            } catch {
                throw PostgresDecodingFailure("array element: \(error.reason)")
            }
        }
    }
}

/// `bytea`: an array of bytes is one binary value, not a PostgreSQL array of numbers.
extension UInt8: PostgresArrayElement {
    public static func postgresText(ofArray elements: [UInt8]) -> String { PostgresBytes.hex(elements) }

    public static func postgresArray(fromText text: String) throws(PostgresDecodingFailure) -> [UInt8] {
        try PostgresBytes.bytes(fromHex: text)
    }
}

extension String: PostgresArrayElement {}
extension Int: PostgresArrayElement {}
extension Int32: PostgresArrayElement {}
extension Int64: PostgresArrayElement {}
extension Bool: PostgresArrayElement {}
extension Double: PostgresArrayElement {}
extension PostgresBytes: PostgresArrayElement {}

/// Splits a one-dimensional array literal as PostgreSQL writes it (`{a,"b c","d\"e"}`) into the
/// text of its elements.
func parseArrayLiteral(_ text: String) throws(PostgresDecodingFailure) -> [String] {
    let bytes = Array(text.utf8)
    guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else {
        throw PostgresDecodingFailure("not a one-dimensional array literal with default bounds")
    }
    var elements: [String] = []
    var index = 1
    let end = bytes.count - 1
    if index == end { return [] }
    while true {
        var element: [UInt8] = []
        if bytes[index] == UInt8(ascii: "\"") {
            index += 1
            while true {
                guard index < end else { throw PostgresDecodingFailure("unterminated quoted array element") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    break
                }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < end else { throw PostgresDecodingFailure("dangling backslash in array") }
                }
                element.append(bytes[index])
                index += 1
            }
        } else {
            while index < end, bytes[index] != UInt8(ascii: ",") {
                let byte = bytes[index]
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "\"") {
                    throw PostgresDecodingFailure("multi-dimensional or malformed array")
                }
                element.append(byte)
                index += 1
            }
            if element.isEmpty { throw PostgresDecodingFailure("empty unquoted array element") }
            if String(decoding: element, as: UTF8.self).uppercased() == "NULL" {
                throw PostgresDecodingFailure("NULL array elements are not supported")
            }
        }
        elements.append(String(decoding: element, as: UTF8.self))
        if index == end { return elements }
        guard bytes[index] == UInt8(ascii: ",") else { throw PostgresDecodingFailure("malformed array literal") }
        index += 1
        guard index < end else { throw PostgresDecodingFailure("malformed array literal") }
    }
}
