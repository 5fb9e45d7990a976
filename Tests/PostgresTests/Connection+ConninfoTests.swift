import Postgres
import Testing

@Suite struct ConnectionConninfoTests {
    @Test func replacesTheDatabaseOfAURI() throws {
        let rewritten = try Connection.conninfo("postgresql://app@db.example:6543/main?sslmode=disable", settingDatabase: "t_1")
        #expect(rewritten.contains("host='db.example'"))
        #expect(rewritten.contains("port='6543'"))
        #expect(rewritten.contains("user='app'"))
        #expect(rewritten.contains("sslmode='disable'"))
        #expect(rewritten.contains("dbname='t_1'"))
        #expect(!rewritten.contains("main"))
    }

    @Test func quotesValuesLibpqReadsBack() throws {
        let rewritten = try Connection.conninfo("host=/tmp/x dbname=old", settingDatabase: "it's a \\ name")
        #expect(rewritten == "host='/tmp/x' dbname='it\\'s a \\\\ name'")
        #expect(try Connection.conninfo(rewritten, settingDatabase: "again") == "host='/tmp/x' dbname='again'")
    }

    @Test func malformedConninfoIsAClientError() throws {
        let error = try #require(throws: PostgresError.self) { try Connection.conninfo("host", settingDatabase: "x") }
        #expect(error.code == .client)
    }

    @Test func quotesIdentifiers() throws {
        #expect(try Connection.quoteIdentifier("Queue") == "\"Queue\"")
        #expect(try Connection.quoteIdentifier("a\"b") == "\"a\"\"b\"")
        // U+0600 and the quote after it are one Character: the quote must still be doubled.
        #expect(try Connection.quoteIdentifier("\u{0600}\"") == "\"\u{0600}\"\"\"")
    }

    /// Each hostile name, quoted, is read back by the server as exactly that name, alone.
    @Test func theServerReadsEveryHostileIdentifierBackWhole() throws {
        let connection = try freshConnection()
        defer { connection.close() }
        for name in HostileNames.names() {
            let result = try connection.query("SELECT 1 AS \(try Connection.quoteIdentifier(name))")
            #expect(result.columns == [name], "\(Array(name.unicodeScalars))")
        }
    }

    /// Each hostile value, quoted, is read back by libpq as exactly that value, with no setting added.
    @Test func libpqReadsEveryHostileConninfoValueBackWhole() throws {
        for name in HostileNames.names() {
            let rewritten = try Connection.conninfo("host=/tmp/x port=5433", settingDatabase: name)
            #expect(
                try Connection.conninfoSettings(rewritten) == ["host": "/tmp/x", "port": "5433", "dbname": name], "\(rewritten)")
        }
    }

    @Test func aNULIsRefusedNotCut() throws {
        #expect(throws: PostgresError.self) { try Connection.quoteIdentifier("a\u{0}b") }
        #expect(throws: PostgresError.self) { try Connection.conninfo("host=/tmp/x", settingDatabase: "a\u{0} host=evil") }
    }
}
