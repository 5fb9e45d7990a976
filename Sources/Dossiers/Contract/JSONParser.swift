/// A strict RFC 8259 JSON parser over bytes.
///
/// Stricter than Foundation's `JSONSerialization`, which import files cannot rely on: it refuses
/// duplicate object keys (which member would win is unspecified), invalid UTF-8, unescaped control
/// characters, lone surrogate escapes, leading zeros, trailing commas and data after the value, and
/// nesting deeper than ``maxDepth`` (so a hostile line cannot exhaust the stack). Every error names
/// the byte offset, line and column.
///
/// It reads the bytes in place (`withContiguousStorageIfAvailable`) and builds a `String` only once
/// per JSON string, so a 10 MB line or 100,000 dossier lines parse in a fraction of a second.
public struct JSONParser: Sendable {
    /// Deepest nesting of arrays and objects accepted; a dossier needs 4.
    public var maxDepth: Int

    public init(maxDepth: Int = 64) {
        self.maxDepth = maxDepth
    }

    /// Parses one JSON text, which must be the whole input (surrounding whitespace aside).
    ///
    /// - Parameter bytes: UTF-8 encoded JSON, without a byte order mark.
    /// - Returns: The value, objects keeping their members' order.
    /// - Throws: ``JSONSyntaxError`` at the first error.
    public func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        let result =
            bytes.withContiguousStorageIfAvailable { parse(buffer: $0) }
            ?? Array(bytes).withUnsafeBufferPointer { parse(buffer: $0) }
        return try result.get()
    }

    /// Parses a string's UTF-8 bytes.
    public func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private func parse(buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONSyntaxError> {
        var reader = Reader(bytes: buffer, maxDepth: maxDepth)
        do throws(Failure) {
            reader.skipWhitespace()
            guard reader.index < buffer.count else {
                throw Failure(offset: reader.index, reason: "empty input, expected a JSON value")
            }
            let value = try reader.parseValue()
            reader.skipWhitespace()
            if reader.index < buffer.count {
                throw Failure(
                    offset: reader.index,
                    reason: "unexpected \(Reader.describe(buffer[reader.index])) after the JSON value")
            }
            return .success(value)
        } catch {
            return .failure(Self.syntaxError(error, in: buffer))
        }
    }

    private static func syntaxError(_ failure: Failure, in bytes: UnsafeBufferPointer<UInt8>) -> JSONSyntaxError {
        var line = 1
        var column = 1
        for byte in bytes[0..<min(failure.offset, bytes.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                // Continuation bytes belong to the character their lead byte started.
                column += 1
            }
        }
        return JSONSyntaxError(offset: failure.offset, line: line, column: column, reason: failure.reason)
    }

    /// Where the number literal starting at `start` ends, or why it is not one.
    static func scanNumber(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Result<Int, Failure> {
        var index = start
        let count = bytes.count
        func isDigit(_ i: Int) -> Bool { i < count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9") }
        if index < count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(index) else { return .failure(Failure(offset: index, reason: "expected a digit")) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if isDigit(index) { return .failure(Failure(offset: index - 1, reason: "leading zeros are not allowed")) }
        } else {
            while isDigit(index) { index += 1 }
        }
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else {
                return .failure(Failure(offset: index, reason: "expected a digit after the decimal point"))
            }
            while isDigit(index) { index += 1 }
        }
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit(index) else { return .failure(Failure(offset: index, reason: "expected a digit in the exponent")) }
            while isDigit(index) { index += 1 }
        }
        return .success(index)
    }

    /// Where the number literal at `start` ends, or `-1` when it is not valid.
    static func numberEnd(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        (try? scanNumber(in: bytes, from: start).get()) ?? -1
    }

    struct Failure: Error {
        var offset: Int
        var reason: String
    }
}

extension JSONParser {
    /// The parsing state over one buffer.
    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var index = 0
        var depth = 0
        /// Reused for strings with escapes, the only ones that cannot be sliced from the input.
        var scratch: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        static func describe(_ byte: UInt8) -> String {
            if byte >= 0x21 && byte < 0x7F {
                return "character '\(Character(Unicode.Scalar(byte)))'"
            }
            return "byte 0x\(hex(byte))"
        }

        static func hex(_ byte: UInt8) -> String {
            let text = String(byte, radix: 16, uppercase: true)
            return byte < 0x10 ? "0" + text : text
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): index += 1
                default: return
                }
            }
        }

        mutating func parseValue() throws(Failure) -> JSONValue {
            guard index < bytes.count else {
                throw Failure(offset: index, reason: "unexpected end of input, expected a value")
            }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try parseObject()
            case UInt8(ascii: "["): return try parseArray()
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let start = index
                switch JSONParser.scanNumber(in: bytes, from: start) {
                case .success(let end):
                    index = end
                    return .number(JSONNumber(literal: UnsafeBufferPointer(rebasing: bytes[start..<end])))
                case .failure(let failure):
                    throw failure
                }
            case let byte:
                throw Failure(offset: index, reason: "unexpected \(Self.describe(byte)), expected a value")
            }
        }

        mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
            let start = index
            let count = literal.utf8CodeUnitCount
            let matches =
                start + count <= bytes.count
                && literal.withUTF8Buffer { expected in
                    (0..<count).allSatisfy { bytes[start + $0] == expected[$0] }
                }
            guard matches else { throw Failure(offset: start, reason: "invalid literal, expected \(literal)") }
            index += count
        }

        mutating func enter() throws(Failure) {
            depth += 1
            if depth > maxDepth {
                throw Failure(offset: index, reason: "nesting deeper than \(maxDepth) levels")
            }
        }

        mutating func parseArray() throws(Failure) -> JSONValue {
            try enter()
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]"), !elements.isEmpty {
                    throw Failure(offset: index, reason: "trailing comma before ']'")
                }
                elements.append(try parseValue())
                skipWhitespace()
                guard index < bytes.count else {
                    throw Failure(offset: index, reason: "unexpected end of input in an array, expected ',' or ']'")
                }
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    depth -= 1
                    return .array(elements)
                case let byte:
                    throw Failure(offset: index, reason: "unexpected \(Self.describe(byte)) in an array, expected ',' or ']'")
                }
            }
        }

        mutating func parseObject() throws(Failure) -> JSONValue {
            try enter()
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            // Past a few members, a set finds duplicates faster than scanning the members.
            var seen: Set<String> = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .object(JSONObject(uniqueMembers: members))
            }
            while true {
                skipWhitespace()
                guard index < bytes.count else {
                    throw Failure(offset: index, reason: "unexpected end of input in an object, expected a key")
                }
                guard bytes[index] == UInt8(ascii: "\"") else {
                    if bytes[index] == UInt8(ascii: "}"), !members.isEmpty {
                        throw Failure(offset: index, reason: "trailing comma before '}'")
                    }
                    throw Failure(offset: index, reason: "unexpected \(Self.describe(bytes[index])), expected a string key")
                }
                let keyOffset = index
                let key = try parseString()
                let isDuplicate: Bool
                if members.count < 16 {
                    isDuplicate = members.contains { $0.key == key }
                } else {
                    if seen.isEmpty { seen = Set(members.map(\.key)) }
                    isDuplicate = !seen.insert(key).inserted
                }
                if isDuplicate {
                    throw Failure(offset: keyOffset, reason: "duplicate key \(quoted(key))")
                }
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                    throw Failure(offset: index, reason: "expected ':' after the key \(quoted(key))")
                }
                index += 1
                skipWhitespace()
                members.append((key, try parseValue()))
                skipWhitespace()
                guard index < bytes.count else {
                    throw Failure(offset: index, reason: "unexpected end of input in an object, expected ',' or '}'")
                }
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    depth -= 1
                    return .object(JSONObject(uniqueMembers: members))
                case let byte:
                    throw Failure(offset: index, reason: "unexpected \(Self.describe(byte)) in an object, expected ',' or '}'")
                }
            }
        }

        /// Parses the string whose opening quote is at `index`.
        ///
        /// Scans runs of plain ASCII in a tight loop and copies whole runs: a string without escapes
        /// (nearly all of them) becomes a `String` straight from the input, with no intermediate copy.
        mutating func parseString() throws(Failure) -> String {
            let start = index + 1
            var cursor = start
            var runStart = start
            var hasEscapes = false
            let count = bytes.count
            while true {
                while cursor < count {
                    let byte = bytes[cursor]
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
                    cursor += 1
                }
                guard cursor < count else { throw Failure(offset: count, reason: "unterminated string") }
                let byte = bytes[cursor]
                if byte == UInt8(ascii: "\"") {
                    index = cursor + 1
                    guard hasEscapes else {
                        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<cursor]), as: UTF8.self)
                    }
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<cursor]))
                    return String(decoding: scratch, as: UTF8.self)
                } else if byte == UInt8(ascii: "\\") {
                    if !hasEscapes {
                        hasEscapes = true
                        scratch.removeAll(keepingCapacity: true)
                    }
                    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<cursor]))
                    cursor = try unescape(at: cursor)
                    runStart = cursor
                } else if byte < 0x20 {
                    let name = byte == 0 ? "NUL byte" : "control character U+00\(Self.hex(byte))"
                    throw Failure(offset: cursor, reason: "unescaped \(name) in a string")
                } else {
                    cursor = try skipMultibyte(at: cursor)
                }
            }
        }

        /// Checks the multi-byte UTF-8 sequence at `offset` and returns where the next character
        /// starts. Well-formed means RFC 3629: no overlong forms, no surrogates, nothing past
        /// U+10FFFF.
        func skipMultibyte(at offset: Int) throws(Failure) -> Int {
            let lead = bytes[offset]
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0:
                length = 3
                secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED:
                length = 3
                secondRange = 0x80...0x9F
            case 0xF0:
                length = 4
                secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4:
                length = 4
                secondRange = 0x80...0x8F
            default:
                throw Failure(offset: offset, reason: "invalid UTF-8 byte 0x\(Self.hex(lead))")
            }
            var valid = offset + length <= bytes.count && secondRange.contains(bytes[offset + 1])
            if valid && length > 2 {
                for position in (offset + 2)..<(offset + length) where bytes[position] & 0xC0 != 0x80 {
                    valid = false
                }
            }
            guard valid else {
                throw Failure(offset: offset, reason: "invalid UTF-8 sequence starting with byte 0x\(Self.hex(lead))")
            }
            return offset + length
        }

        /// Appends the escape sequence at `offset` to `scratch` and returns where it ends.
        mutating func unescape(at offset: Int) throws(Failure) -> Int {
            guard offset + 1 < bytes.count else { throw Failure(offset: bytes.count, reason: "unterminated string") }
            let simple: UInt8
            switch bytes[offset + 1] {
            case UInt8(ascii: "\""): simple = UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): simple = UInt8(ascii: "\\")
            case UInt8(ascii: "/"): simple = UInt8(ascii: "/")
            case UInt8(ascii: "b"): simple = 0x08
            case UInt8(ascii: "f"): simple = 0x0C
            case UInt8(ascii: "n"): simple = 0x0A
            case UInt8(ascii: "r"): simple = 0x0D
            case UInt8(ascii: "t"): simple = 0x09
            case UInt8(ascii: "u"):
                let high = try hexQuad(at: offset + 2)
                var scalarValue = high
                var end = offset + 6
                if (0xDC00...0xDFFF).contains(high) {
                    throw Failure(offset: offset, reason: "lone surrogate escape \\u\(hex16(high))")
                }
                if (0xD800...0xDBFF).contains(high) {
                    let loneSurrogate = Failure(offset: offset, reason: "lone surrogate escape \\u\(hex16(high))")
                    guard end + 1 < bytes.count, bytes[end] == UInt8(ascii: "\\"), bytes[end + 1] == UInt8(ascii: "u")
                    else { throw loneSurrogate }
                    let low = try hexQuad(at: end + 2)
                    guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate }
                    scalarValue = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    end += 6
                }
                guard let scalar = Unicode.Scalar(scalarValue) else {
                    throw Failure(offset: offset, reason: "invalid escape \\u\(hex16(high))")
                }
                UTF8.encode(scalar) { scratch.append($0) }
                return end
            case let byte:
                throw Failure(offset: offset, reason: "invalid escape '\\' followed by \(Self.describe(byte))")
            }
            scratch.append(simple)
            return offset + 2
        }

        func hexQuad(at offset: Int) throws(Failure) -> UInt32 {
            guard offset + 4 <= bytes.count else {
                throw Failure(offset: offset - 2, reason: "incomplete \\u escape")
            }
            var value: UInt32 = 0
            for position in offset..<(offset + 4) {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Failure(offset: position, reason: "invalid hexadecimal digit in a \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        func hex16(_ value: UInt32) -> String {
            Self.hex(UInt8(value >> 8)) + Self.hex(UInt8(value & 0xFF))
        }

        func quoted(_ key: String) -> String {
            "\"" + (key.unicodeScalars.count > 40 ? String(key.unicodeScalars.prefix(40)) + "…" : key) + "\""
        }
    }
}
