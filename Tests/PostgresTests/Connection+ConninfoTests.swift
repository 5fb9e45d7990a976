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

    @Test func quotesIdentifiers() {
        #expect(Connection.quoteIdentifier("Queue") == "\"Queue\"")
        #expect(Connection.quoteIdentifier("a\"b") == "\"a\"\"b\"")
    }
}
