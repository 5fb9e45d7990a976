import Foundation

/// A JSON Schema (draft 2020-12) validator that interprets a schema document, limited to the
/// keywords the contracts use.
///
/// Supported: `type` (a name or a list; `integer` is a whole number), `required`, `properties`,
/// `additionalProperties: false`, `items`, `$ref` to `#/$defs/…`, `enum`, `pattern`, `minLength` and
/// `maxLength` (in Unicode scalars, as the specification counts), `minimum`, `maximum`, `minItems`, `maxItems`,
/// `uniqueItems`, and `format` `date`, `date-time`, `email`, `uri` (asserted, not just annotated).
/// Annotations (`$schema`, `$id`, `title`, `description`, `default`, `$comment`, `examples`) are
/// ignored. Any other keyword makes loading fail, so a schema change the validator does not
/// understand is caught when the schema is loaded rather than silently not enforced.
public struct JSONSchema: Sendable {
    private let root: Node
    private let definitions: [String: Node]

    /// Loads a schema document.
    ///
    /// - Throws: ``ContractError`` whose violations name the unsupported or malformed keywords, with
    ///   paths into the schema.
    public init(_ document: JSONValue) throws(ContractError) {
        var compiler = Compiler()
        var definitions: [String: Node] = [:]
        if let defs = document["$defs"] {
            if let object = defs.objectValue {
                for member in object.members {
                    definitions["#/$defs/" + member.key] = compiler.compile(
                        member.value, at: "$[\"$defs\"]" + JSONPath.component(member.key))
                }
            } else {
                compiler.fail("$[\"$defs\"]", "must be an object")
            }
        }
        let root = compiler.compile(document, at: "$", isRoot: true)
        for (reference, path) in compiler.references where definitions[reference] == nil {
            compiler.fail(path, "unresolvable $ref \(reference)")
        }
        guard compiler.problems.isEmpty else { throw ContractError(violations: compiler.problems) }
        self.root = root
        self.definitions = definitions
    }

    /// Parses and loads a schema given as text.
    public init(text: String) throws(ContractError) {
        let document: JSONValue
        do {
            document = try JSONParser().parse(text)
        } catch {
            throw ContractError(syntax: error)
        }
        try self.init(document)
    }

    /// Every way `instance` breaks the schema, in document order; empty when it conforms.
    public func validate(_ instance: JSONValue) -> [ContractViolation] {
        var validator = Validator(definitions: definitions)
        validator.validate(instance, against: root)
        return validator.violations
    }
}

extension JSONSchema {
    /// One schema object, compiled once so validation does no lookups by keyword.
    fileprivate final class Node: Sendable {
        let reference: String?
        let types: [String]?
        let enumValues: [JSONValue]?
        let required: [String]
        let properties: [String: Node]
        let allowsAdditionalProperties: Bool
        let items: Node?
        let minItems: Int?
        let maxItems: Int?
        let uniqueItems: Bool
        let minLength: Int?
        let maxLength: Int?
        let pattern: Pattern?
        let format: String?
        let minimum: Double?
        let maximum: Double?

        init(
            reference: String?, types: [String]?, enumValues: [JSONValue]?, required: [String],
            properties: [String: Node], allowsAdditionalProperties: Bool, items: Node?, minItems: Int?, maxItems: Int?,
            uniqueItems: Bool, minLength: Int?, maxLength: Int?, pattern: Pattern?, format: String?,
            minimum: Double?, maximum: Double?
        ) {
            self.reference = reference
            self.types = types
            self.enumValues = enumValues
            self.required = required
            self.properties = properties
            self.allowsAdditionalProperties = allowsAdditionalProperties
            self.items = items
            self.minItems = minItems
            self.maxItems = maxItems
            self.uniqueItems = uniqueItems
            self.minLength = minLength
            self.maxLength = maxLength
            self.pattern = pattern
            self.format = format
            self.minimum = minimum
            self.maximum = maximum
        }
    }

    fileprivate static let supportedTypes: Set<String> = ["null", "boolean", "integer", "number", "string", "array", "object"]
    fileprivate static let supportedFormats: Set<String> = ["date", "date-time", "email", "uri"]
    fileprivate static let annotations: Set<String> = [
        "$schema", "$id", "title", "description", "default", "$comment", "examples", "$defs",
    ]

    fileprivate struct Compiler {
        var problems: [ContractViolation] = []
        var references: [(String, String)] = []

        mutating func fail(_ path: String, _ reason: String) {
            problems.append(ContractViolation(path: path, reason: reason))
        }

        mutating func compile(_ value: JSONValue, at path: String, isRoot: Bool = false) -> Node {
            guard let object = value.objectValue else {
                if value != .bool(true) { fail(path, "a schema must be an object") }
                return Node(
                    reference: nil, types: nil, enumValues: nil, required: [], properties: [:],
                    allowsAdditionalProperties: true, items: nil, minItems: nil, maxItems: nil, uniqueItems: false,
                    minLength: nil,
                    maxLength: nil, pattern: nil, format: nil, minimum: nil, maximum: nil)
            }
            var reference: String?
            var types: [String]?
            var enumValues: [JSONValue]?
            var required: [String] = []
            var properties: [String: Node] = [:]
            var allowsAdditionalProperties = true
            var items: Node?
            var minItems: Int?
            var maxItems: Int?
            var uniqueItems = false
            var minLength: Int?
            var maxLength: Int?
            var pattern: Pattern?
            var format: String?
            var minimum: Double?
            var maximum: Double?

            for (keyword, argument) in object.members {
                let here = path + JSONPath.component(keyword)
                switch keyword {
                case "$defs" where !isRoot:
                    fail(here, "$defs is supported at the root only")
                case _ where Self.isAnnotation(keyword):
                    continue
                case "$ref":
                    if let target = argument.stringValue, target.hasPrefix("#/$defs/") {
                        reference = target
                        references.append((target, here))
                    } else {
                        fail(here, "only \"#/$defs/<name>\" references are supported")
                    }
                case "type":
                    let names = argument.arrayValue?.compactMap(\.stringValue) ?? argument.stringValue.map { [$0] }
                    if let names, !names.isEmpty, names.allSatisfy(JSONSchema.supportedTypes.contains) {
                        types = names
                    } else {
                        fail(here, "must be a type name or a list of type names")
                    }
                case "enum":
                    if let values = argument.arrayValue { enumValues = values } else { fail(here, "must be an array") }
                case "required":
                    if let names = argument.arrayValue?.compactMap(\.stringValue), names.count == argument.arrayValue?.count {
                        required = names
                    } else {
                        fail(here, "must be an array of strings")
                    }
                case "properties":
                    if let members = argument.objectValue?.members {
                        for member in members {
                            properties[member.key] = compile(member.value, at: here + JSONPath.component(member.key))
                        }
                    } else {
                        fail(here, "must be an object")
                    }
                case "additionalProperties":
                    if let allowed = argument.boolValue {
                        allowsAdditionalProperties = allowed
                    } else {
                        fail(here, "only true or false is supported")
                    }
                case "items": items = compile(argument, at: here)
                case "minItems": minItems = count(argument, at: here)
                case "maxItems": maxItems = count(argument, at: here)
                case "minLength": minLength = count(argument, at: here)
                case "maxLength": maxLength = count(argument, at: here)
                case "uniqueItems":
                    if let flag = argument.boolValue { uniqueItems = flag } else { fail(here, "must be a boolean") }
                case "minimum", "maximum":
                    if let bound = argument.numberValue?.double {
                        if keyword == "minimum" { minimum = bound } else { maximum = bound }
                    } else {
                        fail(here, "must be a number")
                    }
                case "pattern":
                    if let source = argument.stringValue, let compiled = Pattern(source) {
                        pattern = compiled
                    } else {
                        fail(here, "must be a valid regular expression")
                    }
                case "format":
                    if let name = argument.stringValue, JSONSchema.supportedFormats.contains(name) {
                        format = name
                    } else {
                        fail(here, "unsupported format (supported: date, date-time, email, uri)")
                    }
                default:
                    fail(here, "unsupported keyword")
                }
            }
            return Node(
                reference: reference, types: types, enumValues: enumValues, required: required, properties: properties,
                allowsAdditionalProperties: allowsAdditionalProperties, items: items, minItems: minItems, maxItems: maxItems,
                uniqueItems: uniqueItems, minLength: minLength, maxLength: maxLength, pattern: pattern, format: format,
                minimum: minimum, maximum: maximum)
        }

        static func isAnnotation(_ keyword: String) -> Bool {
            JSONSchema.annotations.contains(keyword)
        }

        mutating func count(_ argument: JSONValue, at path: String) -> Int? {
            guard let value = argument.numberValue?.intValue, value >= 0 else {
                fail(path, "must be a non-negative integer")
                return nil
            }
            return value
        }
    }
}

extension JSONSchema {
    fileprivate enum PathElement {
        case key(String)
        case index(Int)
    }

    fileprivate struct Validator {
        let definitions: [String: Node]
        var violations: [ContractViolation] = []
        /// The path to the value being checked, rendered only when a violation is recorded.
        var path: [PathElement] = []

        init(definitions: [String: Node]) {
            self.definitions = definitions
        }

        var renderedPath: String {
            var text = "$"
            for element in path {
                switch element {
                case .key(let key): text += JSONPath.component(key)
                case .index(let index): text += "[\(index)]"
                }
            }
            return text
        }

        mutating func fail(_ reason: String) {
            violations.append(ContractViolation(path: renderedPath, reason: reason))
        }

        /// A short rendering of a value for a reason: values can be megabytes long.
        static func excerpt(_ value: JSONValue) -> String {
            let text = value.jsonText
            return text.unicodeScalars.count > 60 ? String(text.unicodeScalars.prefix(60)) + "…" : text
        }

        static func excerpt(_ string: String) -> String {
            string.unicodeScalars.count > 60 ? String(string.unicodeScalars.prefix(60)) + "…" : string
        }

        static func plural(_ count: Int, _ noun: String) -> String {
            "\(count) \(noun)\(count == 1 ? "" : "s")"
        }

        mutating func validate(_ value: JSONValue, against node: Node) {
            if let reference = node.reference, let target = definitions[reference] {
                validate(value, against: target)
            }
            if let types = node.types, !types.contains(where: { Self.matches(value, type: $0) }) {
                // Other keywords would only repeat the mismatch in other words.
                fail("expected \(types.joined(separator: " or ")), found \(value.typeName)")
                return
            }
            if let allowed = node.enumValues, !allowed.contains(value) {
                fail("must be one of \(allowed.map(\.jsonText).joined(separator: ", ")), found \(Self.excerpt(value))")
            }
            switch value {
            case .string(let string): validate(string: string, against: node)
            case .number(let number):
                if let minimum = node.minimum, number.double < minimum {
                    fail("must be at least \(Self.render(minimum)), found \(number.text)")
                }
                if let maximum = node.maximum, number.double > maximum {
                    fail("must be at most \(Self.render(maximum)), found \(number.text)")
                }
            case .array(let elements): validate(array: elements, against: node)
            case .object(let object): validate(object: object, against: node)
            case .null, .bool: break
            }
        }

        static func render(_ bound: Double) -> String {
            bound.rounded() == bound && abs(bound) < 1e15 ? String(Int(bound)) : String(bound)
        }

        static func matches(_ value: JSONValue, type: String) -> Bool {
            switch (type, value) {
            case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string), ("array", .array),
                ("object", .object):
                true
            case ("integer", .number(let number)): number.isInteger
            default: false
            }
        }

        mutating func validate(string: String, against node: Node) {
            // A string has at most as many scalars as UTF-8 bytes, and at least a quarter as many:
            // most strings are judged without counting.
            let bytes = string.utf8.count
            if let minLength = node.minLength, bytes / 4 < minLength, string.unicodeScalars.count < minLength {
                fail(minLength == 1 ? "must not be empty" : "shorter than \(Self.plural(minLength, "character"))")
            }
            if let maxLength = node.maxLength, bytes > maxLength, string.unicodeScalars.count > maxLength {
                fail("longer than \(Self.plural(maxLength, "character"))")
            }
            if let pattern = node.pattern, !pattern.matches(string) {
                fail("does not match the pattern \(pattern.source)")
            }
            if let format = node.format {
                switch format {
                // A date may be a child's birth date: the path says which value, the text never quotes it.
                case "date" where CalendarDate(iso: string) == nil:
                    fail("is not a valid date (YYYY-MM-DD)")
                case "date-time" where RFC3339.date(from: string) == nil:
                    fail("is not a valid date-time (RFC 3339, with a time zone)")
                case "email" where !ContractFormats.isEmail(string):
                    // The address itself is personal data: the path says which one it is.
                    fail("is not a valid email address")
                case "uri" where !ContractFormats.isAbsoluteURI(string):
                    fail("is not a valid absolute URI: \(Self.excerpt(string))")
                default: break
                }
            }
        }

        mutating func validate(array elements: [JSONValue], against node: Node) {
            if let minItems = node.minItems, elements.count < minItems {
                fail("must have at least \(Self.plural(minItems, "item")), found \(elements.count)")
            }
            if let maxItems = node.maxItems, elements.count > maxItems {
                // Past the limit the items are not checked one by one: a line of 40,000 children
                // gets one reason, not 40,000.
                fail("must have at most \(Self.plural(maxItems, "item")), found \(elements.count)")
                return
            }
            if node.uniqueItems {
                outer: for later in elements.indices {
                    for earlier in 0..<later where elements[earlier] == elements[later] {
                        fail("items must be unique: [\(later)] repeats [\(earlier)]")
                        break outer
                    }
                }
            }
            if let items = node.items {
                for (index, element) in elements.enumerated() {
                    path.append(.index(index))
                    validate(element, against: items)
                    path.removeLast()
                }
            }
        }

        mutating func validate(object: JSONObject, against node: Node) {
            for key in node.required where object[key] == nil {
                path.append(.key(key))
                fail("is required")
                path.removeLast()
            }
            for (key, value) in object.members {
                path.append(.key(key))
                if let property = node.properties[key] {
                    validate(value, against: property)
                } else if !node.allowsAdditionalProperties {
                    fail("unknown field (additionalProperties: false)")
                }
                path.removeLast()
            }
        }
    }
}

/// The `format` checks JSON Schema leaves to implementations, as the contracts need them.
enum ContractFormats {
    /// ``EmailAddress/isDeliverable(_:)``: the address the mail composer can send to.
    static func isEmail(_ string: String) -> Bool { EmailAddress.isDeliverable(string) }

    /// RFC 3986 `scheme ":" hier-part …`: a letter-led scheme, then something, and no whitespace or
    /// control characters anywhere.
    static func isAbsoluteURI(_ string: String) -> Bool {
        guard let colon = string.firstIndex(of: ":") else { return false }
        let scheme = string[..<colon].unicodeScalars
        guard let first = scheme.first, first.isASCII, first.properties.isAlphabetic,
            scheme.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "+-.".unicodeScalars.contains($0))
            }),
            string.index(after: colon) < string.endIndex
        else { return false }
        return string.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && !$0.properties.isWhitespace }
    }
}
