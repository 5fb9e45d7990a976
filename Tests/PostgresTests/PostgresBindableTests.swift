import Postgres
import Testing

@Suite struct PostgresBindableTests {
    @Test func stringsRoundTripIncludingUnicodeAndEmpty() throws {
        let connection = try freshConnection()
        for value in ["", "plain", "Zoë & Chloé — 学校 🎒", "quote ' and \" and \\ backslash", "tab\tnew\nline", " spaces "] {
            #expect(try roundTrip(value, as: "text", on: connection) == value)
        }
    }

    @Test func integersRoundTripAtTheirLimits() throws {
        let connection = try freshConnection()
        for value in [0, -1, 42, Int.min, Int.max] {
            #expect(try roundTrip(value, as: "bigint", on: connection) == value)
        }
        for value in [Int32.min, -7, Int32.max] {
            #expect(try roundTrip(value, as: "integer", on: connection) == value)
        }
        for value in [Int64.min, -9_000_000_000, Int64.max] {
            #expect(try roundTrip(value, as: "bigint", on: connection) == value)
        }
    }

    @Test func booleansRoundTrip() throws {
        let connection = try freshConnection()
        #expect(try roundTrip(true, as: "boolean", on: connection) == true)
        #expect(try roundTrip(false, as: "boolean", on: connection) == false)
        #expect(try serverValue("1 < 2", as: Bool.self, on: connection))
    }

    @Test func doublesRoundTripExactly() throws {
        let connection = try freshConnection()
        for value in [0.1, -2.5, 1e-300, 123_456_789.123_456_78, Double.greatestFiniteMagnitude, .infinity, -.infinity] {
            #expect(try roundTrip(value, as: "double precision", on: connection) == value)
        }
        #expect(try roundTrip(Double.nan, as: "double precision", on: connection).isNaN)
    }

    @Test func nullRoundTripsAsNil() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (s text, i bigint, b boolean)")
        try connection.query("INSERT INTO t VALUES ($1, $2, $3)", [nil, nil, nil])
        let row = try #require(try connection.query("SELECT * FROM t").first)
        #expect(try row.decodeIfPresent(String.self, "s") == nil)
        #expect(try row.decodeIfPresent(Int.self, "i") == nil)
        #expect(try row.decodeIfPresent(Bool.self, "b") == nil)
    }

    @Test func malformedTextIsRefused() {
        #expect(throws: PostgresDecodingFailure.self) { try Int(postgresText: "12x") }
        #expect(throws: PostgresDecodingFailure.self) { try Bool(postgresText: "yes") }
        #expect(throws: PostgresDecodingFailure.self) { try Double(postgresText: "") }
    }
}
