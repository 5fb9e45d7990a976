import Postgres
import Testing

/// `preparesStatements`: each text is prepared once per connection and run by name after, with the
/// same results and errors as an unnamed statement.
@Suite struct ConnectionPreparedStatementsTests {
    /// The server's own list of this session's prepared statements.
    func prepared(on connection: Connection) throws -> [String] {
        try connection.query("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time").map {
            try $0.decode(String.self, "statement")
        }
    }

    @Test func aStatementIsPreparedOnceAndRunByNameAfter() throws {
        let connection = try freshConnection()
        connection.preparesStatements = true
        for value in 1...3 {
            let rows = try connection.query("SELECT $1::int + 1 AS n", [value])
            #expect(try rows.first?.decode(Int.self, "n") == value + 1)
        }
        #expect(try prepared(on: connection) == ["SELECT $1::int + 1 AS n"])
    }

    @Test func aPreparedStatementOutlivesARolledBackTransaction() throws {
        let connection = try freshConnection()
        connection.preparesStatements = true
        try connection.execute(script: "BEGIN")
        try connection.query("SELECT $1::text AS t", ["inside"])
        try connection.execute(script: "ROLLBACK")
        #expect(try connection.query("SELECT $1::text AS t", ["after"]).first?.decode(String.self, "t") == "after")
        #expect(try prepared(on: connection).count == 1)
    }

    @Test func aStatementTheServerRefusesIsNotRemembered() throws {
        let connection = try freshConnection()
        connection.preparesStatements = true
        let error = try #require(throws: PostgresError.self) { try connection.query("SELECT $1::int FROM nowhere", [1]) }
        #expect(error.sqlState == "42P01")
        #expect(try prepared(on: connection).isEmpty)
    }

    @Test func offByDefault() throws {
        let connection = try freshConnection()
        try connection.query("SELECT $1::int AS n", [1])
        #expect(try prepared(on: connection).isEmpty)
    }
}
