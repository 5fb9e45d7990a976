/// A JSON document as ``JSONParser`` read it, keeping what Foundation's `JSONSerialization` loses:
/// the order of object members, the distinction between `true` and `1`, and a number's literal text.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The JSON Schema name of this value's type (`"number"` for every number, integral or not),
    /// as used in violation reasons.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    public var numberValue: JSONNumber? {
        if case .number(let value) = self { value } else { nil }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { value } else { nil }
    }

    public var objectValue: JSONObject? {
        if case .object(let value) = self { value } else { nil }
    }

    /// The member `key` when this value is an object, else `nil`.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

/// A JSON number: its literal text as written, and its value as a `Double`.
///
/// Equality is numeric (`1`, `1.0` and `1e0` are equal), as JSON Schema's `enum` and `uniqueItems`
/// require; ``text`` still tells the literals apart.
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The literal as it appeared in the document (`"1.50"`, `"-0"`, `"2e3"`).
    public let text: String
    /// The nearest `Double`; infinite when the literal is out of `Double`'s range.
    public let double: Double
    /// Whether the value is a whole number (JSON Schema's `integer`: `2.0` is one, `2.5` is not).
    public let isInteger: Bool

    /// Parses a number literal; `nil` when `text` is not valid JSON number syntax.
    public init?(_ text: String) {
        var bytes = Array(text.utf8)
        guard
            let value = bytes.withUnsafeMutableBufferPointer({ buffer in
                JSONParser.numberEnd(in: UnsafeBufferPointer(buffer), from: 0) == buffer.count
                    ? Self(literal: UnsafeBufferPointer(buffer)) : nil
            })
        else { return nil }
        self = value
    }

    /// Builds a number from a literal the parser has already checked.
    init(literal bytes: UnsafeBufferPointer<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        var isPlainInteger = true
        for byte in bytes where byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            isPlainInteger = false
            break
        }
        let double: Double
        // Short integers are exact in a Double; computing them directly skips the text conversion,
        // which matters at tens of thousands of dossiers per second.
        if isPlainInteger, bytes.count <= 16 {
            var value: Int64 = 0
            var negative = false
            for byte in bytes {
                if byte == UInt8(ascii: "-") {
                    negative = true
                } else {
                    value = value * 10 + Int64(byte &- UInt8(ascii: "0"))
                }
            }
            double = Double(negative ? -value : value)
        } else {
            double = Double(text) ?? .nan
        }
        self.text = text
        self.double = double
        self.isInteger = isPlainInteger || (double.isFinite && double.rounded(.towardZero) == double)
    }

    /// The value as an `Int` when it is a whole number that fits.
    public var intValue: Int? {
        guard isInteger, double.isFinite, let value = Int(exactly: double) else { return nil }
        return value
    }

    public var description: String { text }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.double.isFinite && rhs.double.isFinite ? lhs.double == rhs.double : lhs.text == rhs.text
    }
}

/// A JSON object: its members in document order, keys unique (the parser refuses duplicates).
///
/// Equality ignores member order, as JSON's does.
public struct JSONObject: Sendable, Equatable {
    public private(set) var members: [(key: String, value: JSONValue)]

    /// Creates an object; a later member with an existing key replaces the earlier one's value.
    public init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = []
        for member in members { self[member.key] = member.value }
    }

    /// Members the parser has already checked for duplicate keys.
    init(uniqueMembers: [(key: String, value: JSONValue)]) {
        self.members = uniqueMembers
    }

    public var count: Int { members.count }
    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get {
            // Objects in the contracts have a handful of members: a linear scan beats hashing.
            for member in members where member.key == key { return member.value }
            return nil
        }
        set {
            if let index = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[index].value = newValue } else { members.remove(at: index) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        return lhs.members.allSatisfy { member in rhs[member.key] == member.value }
    }
}
