import Foundation
import Postgres
import Testing

@Suite struct PostgresArrayElementTests {
    @Test func stringArraysKeepAwkwardElements() throws {
        let connection = try freshConnection()
        let awkward = [
            "plain", "", "with space", " lead", "comma,inside", "quote\"inside", "back\\slash", "{braces}", "NULL",
            "null", "tab\tnew\nline", "Zoë 🎒", "'single'",
        ]
        #expect(try roundTrip(awkward, as: "text[]", on: connection) == awkward)
        #expect(try roundTrip([String](), as: "text[]", on: connection) == [])
        // The server sees the same elements, not a re-parsed mess.
        let row = try #require(
            try connection.query("SELECT cardinality($1::text[]) AS n, ($1::text[])[5] AS fifth", [awkward]).first)
        #expect(try row.decode(Int.self, "n") == awkward.count)
        #expect(try row.decode(String.self, "fifth") == "comma,inside")
    }

    @Test func numberArraysRoundTrip() throws {
        let connection = try freshConnection()
        #expect(try roundTrip([1, -2, Int.max, Int.min], as: "bigint[]", on: connection) == [1, -2, Int.max, Int.min])
        #expect(try roundTrip([Int64(-9_000_000_000), 0], as: "bigint[]", on: connection) == [-9_000_000_000, 0])
        #expect(try serverValue("ARRAY[3, 1, 2]", as: [Int].self, on: connection) == [3, 1, 2])
    }

    @Test func uuidAndDateArraysRoundTrip() throws {
        let connection = try freshConnection()
        let ids = [UUID(), UUID()]
        #expect(try roundTrip(ids, as: "uuid[]", on: connection) == ids)
        let dates = [PostgresDate(year: 2026, month: 8, day: 21), PostgresDate(year: 2027, month: 1, day: 1)]
        #expect(try roundTrip(dates, as: "date[]", on: connection) == dates)
    }

    @Test func arrayParameterWorksWithAny() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)")
        let result = try connection.query("SELECT id FROM t WHERE id = ANY($1) ORDER BY id", [[2, 4, 8]])
        #expect(try result.map { try $0.decode(Int.self, "id") } == [2, 4, 8])
    }

    @Test func refusesNullElementsAndMultipleDimensions() throws {
        #expect(throws: PostgresDecodingFailure.self) { try [String](postgresText: "{a,NULL}") }
        #expect(throws: PostgresDecodingFailure.self) { try [Int](postgresText: "{{1,2},{3,4}}") }
        #expect(throws: PostgresDecodingFailure.self) { try [Int](postgresText: "{1,x}") }
        #expect(try [String](postgresText: #"{a,"b,c","d\"e"}"#) == ["a", "b,c", "d\"e"])
    }
}
