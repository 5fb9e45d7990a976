import Postgres
import Testing

@Suite struct PostgresBytesTests {
    @Test func everyByteValueRoundTrips() throws {
        let connection = try freshConnection()
        let all = (0...255).map { UInt8($0) }
        #expect(try roundTrip(all, as: "bytea", on: connection) == all)
        #expect(try roundTrip(PostgresBytes(all.reversed()), as: "bytea", on: connection).bytes == all.reversed())
        #expect(try roundTrip([UInt8](), as: "bytea", on: connection) == [])
        #expect(try serverValue("length($$\\x00ff$$::bytea)", as: Int.self, on: connection) == 2)
    }

    @Test func storesInATable() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE files (content bytea)")
        let content: [UInt8] = [0, 92, 39, 34, 10, 255]
        try connection.query("INSERT INTO files VALUES ($1)", [content])
        #expect(try serverValue("(SELECT octet_length(content) FROM files)", as: Int.self, on: connection) == 6)
        #expect(try serverValue("(SELECT content FROM files)", as: [UInt8].self, on: connection) == content)
    }

    @Test func refusesNonHexText() {
        #expect(throws: PostgresDecodingFailure.self) { try PostgresBytes(postgresText: "abc") }
        #expect(throws: PostgresDecodingFailure.self) { try PostgresBytes(postgresText: "\\x0g") }
        #expect(throws: PostgresDecodingFailure.self) { try PostgresBytes(postgresText: "\\x0") }
    }
}
