internal import CLibPQ

extension Connection {
    /// Rewrites a conninfo to name another database on the same server, as libpq reads it.
    ///
    /// - Parameters:
    ///   - conninfo: A libpq URI or `key=value` string; empty means the libpq environment.
    ///   - database: The database the result connects to.
    /// - Returns: A `key=value` string with every setting of `conninfo` and `dbname` replaced.
    /// - Throws: ``PostgresError`` with code `client` when libpq cannot parse `conninfo`.
    public static func conninfo(_ conninfo: String, settingDatabase database: String) throws(PostgresError) -> String {
        var pairs: [String] = []
        for (name, value) in try conninfoSettings(conninfo).sorted(by: { $0.key < $1.key }) where name != "dbname" {
            pairs.append("\(name)=\(try quoteConninfoValue(value))")
        }
        pairs.append("dbname=\(try quoteConninfoValue(database))")
        return pairs.joined(separator: " ")
    }
}

/// Quotes a value for a libpq `key=value` string: single quotes, with `\` and `'` escaped.
///
/// Works on UTF-8 bytes, never on `Character`s: a grapheme cluster can hold a `'` (U+0600 and the
/// other prepended marks join the character that follows them), and a comparison by grapheme would
/// let that quote end the value and the rest be read as more settings.
///
/// - Throws: ``PostgresError`` with code `client` for a value holding NUL, which libpq would cut.
public func quoteConninfoValue(_ value: String) throws(PostgresError) -> String {
    var quoted: [UInt8] = [UInt8(ascii: "'")]
    for byte in value.utf8 {
        guard byte != 0 else {
            throw PostgresError(code: .client, message: "a connection setting cannot hold a NUL character")
        }
        if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\\") { quoted.append(UInt8(ascii: "\\")) }
        quoted.append(byte)
    }
    quoted.append(UInt8(ascii: "'"))
    return String(decoding: quoted, as: UTF8.self)
}

extension Connection {
    /// Quotes an SQL identifier (a table, database or channel name) for use in SQL text:
    /// `"` around it, inner `"` doubled, byte by byte. The name keeps its case.
    ///
    /// - Throws: ``PostgresError`` with code `client` for a name holding NUL.
    public static func quoteIdentifier(_ name: String) throws(PostgresError) -> String {
        try quotedIdentifier(name)
    }

    /// The settings of a conninfo as libpq reads them (keyword → value, only those that are set).
    ///
    /// - Throws: ``PostgresError`` with code `client` when libpq cannot parse `conninfo`.
    public static func conninfoSettings(_ conninfo: String) throws(PostgresError) -> [String: String] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            let message = trimmed(errorMessage) ?? "cannot parse the connection string"
            if let errorMessage { PQfreemem(errorMessage) }
            throw PostgresError(code: .client, message: message)
        }
        defer { PQconninfoFree(options) }
        var settings: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { settings[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return settings
    }
}

extension Connection {
    /// Sets `setting` to `value` for every later session on this connection's database
    /// (`ALTER DATABASE … SET`; the server quotes both). Sessions already open keep theirs.
    public func setDatabaseDefault(_ setting: String, to value: String) throws(PostgresError) {
        let statement = try query(
            "SELECT format('ALTER DATABASE %I SET %s = %L', current_database(), quote_ident($1), $2::text) AS sql",
            [setting, value]
        ).first?.decode(String.self, "sql")
        try execute(script: statement ?? "")
    }
}
