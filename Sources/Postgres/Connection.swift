internal import CLibPQ
import Glibc

/// A connection to PostgreSQL through libpq.
///
/// Not `Sendable`: use a connection from one thread at a time. Every call blocks that thread until
/// the server answers or the connection's ``waitLimits`` run out, so keep connections off Swift's
/// cooperative thread pool (a worker process is a plain synchronous loop, which fits).
///
/// After connecting, the session is set to `DateStyle = 'ISO, YMD'`, `TimeZone = 'UTC'`,
/// `IntervalStyle = 'iso_8601'`, `bytea_output = 'hex'` and `client_encoding = 'UTF8'`, so that
/// the text the decoders read does not depend on the server's configuration.
public final class Connection {
    /// The libpq handle; `nil` once closed.
    var handle: OpaquePointer?
    /// Gives each savepoint of this connection a distinct name.
    var savepointCounter = 0
    /// How long each statement and each commit may wait for the server (unbounded by default).
    public var waitLimits = WaitLimits.unbounded

    /// Whether statements with parameters are prepared once per connection, by name, and run by
    /// name after that: the server parses and analyses each text once instead of at every call (a
    /// worker sends the same twenty statements every batch). Off by default: a statement prepared
    /// before a change of the schema fails if its result columns changed.
    public var preparesStatements = false
    /// The names of the statements prepared on this connection.
    private var preparedNames: [PreparedKey: String] = [:]

    private struct PreparedKey: Hashable {
        var sql: String
        var types: [Oid]
    }

    /// Opens a connection.
    ///
    /// - Parameter conninfo: A libpq URI (`postgresql://...`) or `key=value` string. The empty
    ///   string means the libpq environment (`PGHOST`, `PGDATABASE`, ...). Unless it names one,
    ///   `application_name` is `eticket`.
    /// - Throws: ``PostgresError`` with code `connectionFailed` when the server cannot be reached
    ///   or refuses the login.
    public init(_ conninfo: String = "") throws(PostgresError) {
        // PQconnectdbParams with expand_dbname lets `fallback_application_name` apply whatever the
        // form of the conninfo (URI, key=value or empty).
        let keywords = ["dbname", "fallback_application_name"]
        let values = [conninfo, "eticket"]
        let connection: OpaquePointer? = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "could not allocate a libpq connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection)) ?? "could not connect"
            PQfinish(connection)
            throw PostgresError(code: .connectionFailed, message: message)
        }
        // libpq prints NOTICEs to stderr by default; they are noise for a service.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        handle = connection
        do {
            try execute(
                script: """
                    SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601';
                    SET bytea_output = 'hex'; SET client_encoding = 'UTF8'
                    """)
        } catch {
            close()
            throw PostgresError(
                code: .connectionFailed, message: "could not configure the session: \(error.message)",
                sqlState: error.sqlState)
        }
    }

    deinit {
        close()
    }

    /// Closes the connection. Calling it again does nothing.
    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    /// The process id of the server backend serving this connection; 0 once closed.
    public var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// Whether the connection is open and libpq still considers it healthy.
    ///
    /// A connection that the server dropped only shows as closed after a call noticed it.
    public var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Runs one statement with `$1`, `$2`... parameters.
    ///
    /// Parameters are sent in text format and the server infers their types (a
    /// ``PostgresBinaryBindable`` goes in binary, with its type); results come back in text format
    /// and are read with ``Row/decode(_:_:)``.
    /// - Parameters:
    ///   - sql: One SQL statement.
    ///   - parameters: The values of `$1`, `$2`...; `nil` is SQL `NULL`.
    /// - Returns: The rows, the column names and the number of rows affected.
    /// - Throws: ``PostgresError``: `server` with the SQLSTATE when the statement fails,
    ///   `connectionLost` when the connection dropped, `client` for a parameter PostgreSQL cannot
    ///   carry (text containing a NUL character).
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws(PostgresError)
        -> QueryResult
    {
        try execute(sql, parameters, resultFormat: 0)
    }

    /// Runs several statements without parameters, such as a migration or `SET` commands.
    ///
    /// The statements run in one implicit transaction unless the script contains its own
    /// `BEGIN`/`COMMIT`; execution stops at the first error.
    /// - Throws: ``PostgresError`` for the first statement that fails.
    public func execute(script sql: String) throws(PostgresError) {
        try checked(try sendAndWait(sql) { PQsendQuery($0, sql) }, sql: sql)
    }

    // MARK: - Shared with the extensions

    /// Sends `parameters` (in text format, or binary for ``PostgresBinaryBindable`` ones) and asks
    /// for results in `resultFormat` (0 text, 1 binary).
    func execute(_ sql: String, _ parameters: [(any PostgresBindable)?], resultFormat: Int32) throws(PostgresError)
        -> QueryResult
    {
        let wire = try WireParameters(parameters, sql: sql)
        let name = preparesStatements && !parameters.isEmpty ? try prepared(sql, types: wire.types) : nil
        let result = try sendAndWait(sql) { connection in
            wire.values.withUnsafeBufferPointer { values in
                values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                    if let name {
                        PQsendQueryPrepared(
                            connection, name, Int32(values.count), values.baseAddress, wire.lengths, wire.formats,
                            resultFormat)
                    } else {
                        PQsendQueryParams(
                            connection, sql, Int32(values.count), wire.types, values.baseAddress, wire.lengths,
                            wire.formats, resultFormat)
                    }
                }
            }
        }
        return try checked(result, sql: sql)
    }

    /// The name of `sql` prepared with these parameter types, preparing it on first use. A
    /// protocol-level prepared statement outlives a rolled-back transaction.
    /// Preparing waits within the same bound as a statement (``waitLimits``).
    private func prepared(_ sql: String, types: [Oid]) throws(PostgresError) -> String {
        let key = PreparedKey(sql: sql, types: types)
        if let name = preparedNames[key] { return name }
        let name = "eticket_\(preparedNames.count + 1)"
        try checked(try sendAndWait(sql) { PQsendPrepare($0, name, sql, Int32(types.count), types) }, sql: sql)
        preparedNames[key] = name
        return name
    }

    func openHandle(for sql: String?) throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .client, message: "the connection is closed", query: sql)
        }
        return handle
    }

    /// Turns a libpq result into a ``QueryResult`` or the matching error, taking ownership of it.
    @discardableResult
    func checked(_ result: OpaquePointer?, sql: String) throws(PostgresError) -> QueryResult {
        guard let result else {
            throw connectionError(query: sql)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return QueryResult(ResultStorage(result))
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            PQclear(result)
            abandonCopy()
            throw PostgresError(
                code: .client, message: "COPY cannot run through query() or execute(script:); use copyIn(_:rows:)",
                query: sql)
        default:
            let error = error(from: result, query: sql)
            PQclear(result)
            throw error
        }
    }

    /// Builds the error a failed result describes, telling a dropped connection from a refusal.
    func error(from result: OpaquePointer, query: String?) -> PostgresError {
        func field(_ code: Int32) -> String? {
            Self.trimmed(PQresultErrorField(result, code))
        }
        let sqlState = field(ETICKET_PG_DIAG_SQLSTATE)
        let message =
            field(ETICKET_PG_DIAG_MESSAGE_PRIMARY)
            ?? Self.trimmed(PQresultErrorMessage(result))
            ?? handle.flatMap { Self.trimmed(PQerrorMessage($0)) }
            ?? "unknown error"
        let code: PostgresError.Code
        if let handle, PQstatus(handle) == CONNECTION_BAD {
            code = .connectionLost
        } else if let sqlState, ["57P01", "57P02", "57P03"].contains(sqlState) || sqlState.hasPrefix("08") {
            code = .connectionLost
        } else if sqlState != nil {
            code = .server
        } else {
            code = .client
        }
        return PostgresError(
            code: code, message: message, sqlState: sqlState,
            detail: field(ETICKET_PG_DIAG_MESSAGE_DETAIL), hint: field(ETICKET_PG_DIAG_MESSAGE_HINT),
            constraint: field(ETICKET_PG_DIAG_CONSTRAINT_NAME), query: query)
    }

    /// The error for a call that produced no result at all, which libpq does when the connection
    /// is gone (or, rarely, out of memory).
    func connectionError(query: String?) -> PostgresError {
        guard let handle else {
            return PostgresError(code: .client, message: "the connection is closed", query: query)
        }
        let message = Self.trimmed(PQerrorMessage(handle)) ?? "no answer from the server"
        let code: PostgresError.Code = PQstatus(handle) == CONNECTION_BAD ? .connectionLost : .client
        return PostgresError(code: code, message: message, query: query)
    }

    /// Leaves an unexpected COPY state so the connection stays usable.
    func abandonCopy() {
        guard let handle else { return }
        _ = PQputCopyEnd(handle, "COPY is not supported here")
        while let next = PQgetResult(handle) {
            PQclear(next)
        }
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String? {
        guard let text else { return nil }
        let string = String(cString: text)
        var scalars = Substring(string)
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return scalars.isEmpty ? nil : String(scalars)
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the duration of the call.
func withCStringArray<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    return body(copies.map { UnsafePointer($0) } + [nil])
}
