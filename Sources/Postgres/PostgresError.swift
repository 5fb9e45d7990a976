/// An error from the PostgreSQL layer: a code a caller can match, and the server's own words.
///
/// Match on ``code`` (and ``sqlState`` for server errors); show ``description`` to a person.
/// The failing SQL is kept in ``query`` for logs; parameter values are never recorded, so an error
/// can be logged without leaking personal data.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. Opaque so that new codes never break existing callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case connectionFailed, connectionLost, timedOut, server, decoding, client
        }

        private let base: Base

        private init(_ base: Base) { self.base = base }

        /// The connection could not be established: refused, no such socket, authentication failed.
        public static let connectionFailed = Code(.connectionFailed)
        /// An established connection dropped: the backend was terminated, the server restarted.
        public static let connectionLost = Code(.connectionLost)
        /// The server did not answer within the connection's ``WaitLimits``: the statement was
        /// cancelled and the connection closed. ``PostgresError/server`` names the server,
        /// ``PostgresError/phase`` what was waited for.
        public static let timedOut = Code(.timedOut)
        /// The server answered with an error; ``PostgresError/sqlState`` says which.
        public static let server = Code(.server)
        /// A column could not be read as the requested type; ``PostgresError/column`` names it.
        public static let decoding = Code(.decoding)
        /// The library was misused (a savepoint outside a transaction, a closed connection) or
        /// the COPY protocol failed on the client side.
        public static let client = Code(.client)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The five-character SQLSTATE the server sent, such as `23505` for a unique violation.
    public var sqlState: String?
    /// The primary message, written for a person.
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The constraint that was violated, when the server names one.
    public var constraint: String?
    /// The SQL that failed, for logs. Never contains parameter values.
    public var query: String?
    /// The column that could not be decoded.
    public var column: String?

    // No stored property is added for timeouts: the layout of this struct stays as it was (a
    // larger one made `#expect(throws:)` over typed-throwing closures crash the test process
    // with swift-testing 6.3.1). A `timedOut` error keeps the server in `detail` and the
    // statement in `query`.

    /// For `timedOut`: the server (`host:port`) that did not answer.
    public var server: String? { code == .timedOut ? detail : nil }
    /// For `timedOut`: what was waited for.
    public var phase: Phase? { code == .timedOut ? (query == "COMMIT" ? .commit : .statement) : nil }

    /// What a connection waited for when its bound ran out.
    public enum Phase: String, Sendable {
        /// A statement's answer.
        case statement
        /// `COMMIT`, which may wait for synchronous replication.
        case commit
    }

    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, query: String? = nil, column: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.query = query
        self.column = column
    }

    /// Whether the database could not be reached, the connection dropped or it was closed after a
    /// wait beyond its bound: the operation may succeed on a new connection, and nothing about the
    /// data itself was wrong.
    public var isConnectionError: Bool { code == .connectionFailed || code == .connectionLost || code == .timedOut }

    /// The message, constraint and SQLSTATE, without the detail: the server's detail may quote the
    /// failing row ("Failing row contains …"), which holds personal data that logs must not carry.
    public var logDescription: String {
        var line = messageWithoutValues
        if let constraint { line += " (constraint \(constraint))" }
        if let sqlState { line += " [SQLSTATE \(sqlState)]" }
        return line
    }

    /// The message, with what it quotes from the data withheld when the server quotes a value: a
    /// data exception (SQLSTATE class 22) names the offending input (`invalid input syntax for
    /// type date: "…"`, `value "…" is out of range`), which may be a family's name or address.
    /// Other messages quote identifiers (a relation, a constraint), which stay.
    public var messageWithoutValues: String {
        guard sqlState?.hasPrefix("22") == true else { return message }
        var withheld = ""
        var quoted = false
        for character in message {
            if character == "\"" {
                withheld += quoted ? "…\"" : "\""
                quoted.toggle()
            } else if !quoted {
                withheld.append(character)
            }
        }
        return withheld
    }

    /// One line a person can act on: the message, then detail and hint, then the SQLSTATE.
    public var description: String {
        var line = message
        if let detail, !detail.isEmpty { line += " (\(detail))" }
        if let hint, !hint.isEmpty { line += " Hint: \(hint)" }
        if let sqlState { line += " [SQLSTATE \(sqlState)]" }
        return line
    }
}
