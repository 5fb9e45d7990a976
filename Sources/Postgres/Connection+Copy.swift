internal import CLibPQ

extension Connection {
    /// Loads rows with `COPY ... FROM STDIN` in text format.
    ///
    /// Fields are escaped here (backslash, tab, newline, carriage return; `nil` is `\N`), and the
    /// data goes to the server in chunks of about 256 KB rather than one call per row.
    /// - Parameters:
    ///   - sql: The COPY statement, such as `COPY dossiers (id, name) FROM STDIN`. Text format,
    ///     default delimiter and NULL marker.
    ///   - rows: The rows, one field per column of the COPY statement.
    /// - Returns: The number of rows copied.
    /// - Throws: ``PostgresError``: `server` when the server rejects the data (nothing is
    ///   loaded), `client` when `sql` is not a `COPY FROM STDIN` or a field contains a NUL
    ///   character (the copy is cancelled), `connectionLost` when the connection dropped.
    @discardableResult
    public func copyIn(_ sql: String, rows: some Sequence<[String?]>) throws(PostgresError) -> Int {
        let connection = try openHandle(for: sql)
        guard let start = try sendAndWait(sql, send: { PQsendQuery($0, sql) }) else { throw connectionError(query: sql) }
        let status = PQresultStatus(start)
        guard status == PGRES_COPY_IN else {
            // Anything else is an error result, or a statement that is not COPY FROM STDIN.
            if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY
                || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH
            {
                PQclear(start)
                if status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY {
                    abandonCopy()
                }
                throw PostgresError(code: .client, message: "copyIn needs a COPY ... FROM STDIN statement", query: sql)
            }
            try checked(start, sql: sql)
            throw PostgresError(code: .client, message: "copyIn needs a COPY ... FROM STDIN statement", query: sql)
        }
        PQclear(start)

        let chunkSize = 256 * 1024
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize + 4096)
        var sent = 0
        var failure: PostgresError?

        func flush() -> Bool {
            let accepted = buffer.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    PQputCopyData(connection, chars.baseAddress, Int32(chars.count))
                }
            }
            buffer.removeAll(keepingCapacity: true)
            return accepted == 1
        }

        rowLoop: for row in rows {
            for (index, field) in row.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: "\t")) }
                guard let field else {
                    buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
                    continue
                }
                for byte in field.utf8 {
                    switch byte {
                    case UInt8(ascii: "\\"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                    case UInt8(ascii: "\t"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                    case UInt8(ascii: "\n"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                    case UInt8(ascii: "\r"): buffer.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                    case 0:
                        failure = PostgresError(
                            code: .client,
                            message:
                                "row \(sent + 1), field \(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                            query: sql)
                        break rowLoop
                    default: buffer.append(byte)
                    }
                }
            }
            buffer.append(UInt8(ascii: "\n"))
            sent += 1
            if buffer.count >= chunkSize, !flush() { break rowLoop }
        }
        if failure == nil, !buffer.isEmpty { _ = flush() }

        // Ending with an error message makes the server abort the COPY and load nothing.
        let ended = failure.map { PQputCopyEnd(connection, $0.message) } ?? PQputCopyEnd(connection, nil)
        var serverError: PostgresError?
        var copied: Int?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                copied = PQcmdTuples(result).flatMap { Int(String(cString: $0)) }
            } else if serverError == nil {
                serverError = error(from: result, query: sql)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        if let serverError { throw serverError }
        if ended != 1 || PQstatus(connection) == CONNECTION_BAD {
            throw connectionError(query: sql)
        }
        return copied ?? sent
    }
}
