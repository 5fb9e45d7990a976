import Testing

@testable import Dossiers

/// A step into a JSON document, for editing examples in tests.
enum Step: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case key(String)
    case index(Int)

    init(stringLiteral value: String) { self = .key(value) }
    init(integerLiteral value: Int) { self = .index(value) }
}

extension JSONValue {
    /// This value with the value at `path` replaced, or removed when `newValue` is `nil`.
    func setting(_ newValue: JSONValue?, at path: [Step]) -> JSONValue {
        guard let step = path.first else { return newValue ?? .null }
        let rest = Array(path.dropFirst())
        switch (self, step) {
        case (.object(var object), .key(let key)):
            if rest.isEmpty {
                object[key] = newValue
            } else {
                object[key] = (object[key] ?? .null).setting(newValue, at: rest)
            }
            return .object(object)
        case (.array(var elements), .index(let index)) where elements.indices.contains(index):
            elements[index] = elements[index].setting(newValue, at: rest)
            return .array(elements)
        default:
            Issue.record("cannot follow \(step) in \(typeName)")
            return self
        }
    }

    static func text(_ string: String) -> JSONValue { .string(string) }

    static func integer(_ value: Int) -> JSONValue {
        guard let number = JSONNumber(String(value)) else { return .null }
        return .number(number)
    }

    static func literal(_ text: String) -> JSONValue {
        (try? JSONParser().parse(text)) ?? .null
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
