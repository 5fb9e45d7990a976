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
