import Foundation

/// One way an imported document breaks its contract: where, and why.
public struct ContractViolation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A JSONPath to the offending value, `$` being the document (`$.children[0].birth_date`).
    public var path: String
    /// What is wrong, in English (`is required`, `expected string, found number`).
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Why an imported line or file was refused: either it is not JSON at all (``syntax``), or it is JSON
/// that breaks the contract (``violations``, every one of them, not only the first).
public struct ContractError: Error, Sendable, Equatable, CustomStringConvertible {
    public var violations: [ContractViolation]
    public var syntax: JSONSyntaxError?

    public init(violations: [ContractViolation] = [], syntax: JSONSyntaxError? = nil) {
        self.violations = violations
        self.syntax = syntax
    }

    /// How many violations ``description`` lists before summarising the rest.
    public static let describedViolations = 5

    /// The syntax error, or the first few violations and how many more there are, on one line
    /// for an import report.
    public var description: String {
        if let syntax { return syntax.description }
        let shown = violations.prefix(Self.describedViolations).map(\.description)
        let more = violations.count - shown.count
        return shown.joined(separator: "; ") + (more > 0 ? "; and \(more) more" : "")
    }
}

/// Renders the JSONPath of violations: `$.children[0].birth_date`, `$["odd key"]`.
enum JSONPath {
    /// `.key` for an identifier-like key, `["key"]` otherwise.
    static func component(_ key: String) -> String {
        let isIdentifier =
            !key.isEmpty
            && key.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            }
            && !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(key.utf8.first ?? 0)
        return isIdentifier ? "." + key : "[" + JSONValue.string(key).jsonText + "]"
    }
}

/// Reads values out of a document the schema has already accepted.
///
/// The schema guarantees every lookup succeeds; should one fail anyway (the schema and this code
/// drifting apart), it records a violation instead of trapping, so the line is refused, not the
/// whole import crashed.
struct ContractReader {
    var violations: [ContractViolation] = []

    mutating func missing(_ path: String, _ reason: String = "is required") {
        violations.append(ContractViolation(path: path, reason: reason))
    }

    mutating func object(_ value: JSONValue?, at path: String) -> JSONObject {
        guard let object = value?.objectValue else {
            missing(path)
            return JSONObject()
        }
        return object
    }

    mutating func array(_ object: JSONObject, _ key: String, at path: String) -> [JSONValue] {
        guard let array = object[key]?.arrayValue else {
            missing(path + JSONPath.component(key))
            return []
        }
        return array
    }

    mutating func string(_ object: JSONObject, _ key: String, at path: String) -> String {
        guard let string = object[key]?.stringValue else {
            missing(path + JSONPath.component(key))
            return ""
        }
        return string
    }

    /// The string, or `nil` when the member is absent or `null`.
    func optionalString(_ object: JSONObject, _ key: String) -> String? {
        object[key]?.stringValue
    }

    /// The boolean, or the schema's `default` when the member is absent.
    func bool(_ object: JSONObject, _ key: String, default defaultValue: Bool) -> Bool {
        object[key]?.boolValue ?? defaultValue
    }

    mutating func int(_ object: JSONObject, _ key: String, at path: String) -> Int {
        guard let number = object[key]?.numberValue else {
            missing(path + JSONPath.component(key))
            return 0
        }
        // The schema allows any integer; ours are 64-bit.
        guard let value = number.intValue else {
            missing(path + JSONPath.component(key), "is too large: \(number.text)")
            return 0
        }
        return value
    }

    mutating func date(_ value: JSONValue?, at path: String) -> CalendarDate {
        guard let text = value?.stringValue, let date = CalendarDate(iso: text) else {
            missing(path, "is not a valid date")
            return CalendarDate(daysSinceEpoch: 0)
        }
        return date
    }

    mutating func dateTime(_ object: JSONObject, _ key: String, at path: String) -> Date {
        guard let date = optionalDateTime(object, key, at: path) else {
            missing(path + JSONPath.component(key))
            return Date(timeIntervalSince1970: 0)
        }
        return date
    }

    /// The instant, or `nil` when the member is absent or `null`.
    mutating func optionalDateTime(_ object: JSONObject, _ key: String, at path: String) -> Date? {
        guard let text = optionalString(object, key) else { return nil }
        guard let date = RFC3339.date(from: text) else {
            missing(path + JSONPath.component(key), "is not a valid date-time")
            return nil
        }
        return date
    }
}
