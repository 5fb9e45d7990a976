import CLibPQ

extension Connection {
    /// Rewrites a conninfo to name another database on the same server, as libpq reads it.
    ///
    /// - Parameters:
    ///   - conninfo: A libpq URI or `key=value` string; empty means the libpq environment.
    ///   - database: The database the result connects to.
    /// - Returns: A `key=value` string with every setting of `conninfo` and `dbname` replaced.
    /// - Throws: ``PostgresError`` with code `client` when libpq cannot parse `conninfo`.
    public static func conninfo(_ conninfo: String, settingDatabase database: String) throws(PostgresError) -> String {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            let message = trimmed(errorMessage) ?? "cannot parse the connection string"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(code: .client, message: message)
        }
        defer { PQconninfoFree(options) }
        var pairs: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let name = String(cString: keyword)
            if name != "dbname", let value = option.pointee.val {
                pairs.append("\(name)=\(quoteConninfoValue(String(cString: value)))")
            }
            option += 1
        }
        pairs.append("dbname=\(quoteConninfoValue(database))")
        return pairs.joined(separator: " ")
    }
}

/// Quotes a value for a libpq `key=value` string: single quotes, with `\` and `'` escaped.
public func quoteConninfoValue(_ value: String) -> String {
    var quoted = "'"
    for character in value {
        if character == "'" || character == "\\" { quoted.append("\\") }
        quoted.append(character)
    }
    return quoted + "'"
}

extension Connection {
    /// Quotes an SQL identifier (a table, database or channel name) for use in SQL text:
    /// `"` around it, inner `"` doubled. The name keeps its case.
    public static func quoteIdentifier(_ name: String) -> String {
        quotedIdentifier(name)
    }
}
