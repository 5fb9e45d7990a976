import Foundation
import Postgres
import Testing

@Suite struct ConnectionBinaryResultsTests {
    @Test func byteaArrivesAsItsBytesEveryValueAndSizeIncluded() throws {
        let connection = try freshConnection()
        let every = (0...255).map(UInt8.init)
        for bytes in [[], every, Array(repeating: 0, count: 3), (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }] {
            let row = try #require(try connection.queryBinary("SELECT $1::bytea AS b", [PostgresBytes(bytes)]).first)
            #expect(try row.bytes("b") == bytes)
        }
        // The stored bytes, read both ways, agree.
        try connection.execute(script: "CREATE TABLE t (id bigint PRIMARY KEY, b bytea NOT NULL)")
        try connection.query("INSERT INTO t VALUES (1, $1)", [PostgresBytes(every)])
        let binary = try #require(try connection.queryBinary("SELECT b FROM t WHERE id = $1", [1]).first)
        let text = try #require(try connection.query("SELECT b FROM t WHERE id = $1", [1]).first)
        #expect(try binary.bytes("b") == text.decode([UInt8].self, "b"))
    }

    @Test func textIntegersAndTimestampsRead() throws {
        let connection = try freshConnection()
        let result = try connection.queryBinary(
            """
            SELECT $1::text AS t, 'ok'::varchar AS v, $2::bigint AS i8, (-7)::integer AS i4, (-2)::smallint AS i2,
                   '2026-11-28 04:04:11.25+00'::timestamptz AS at, '1999-12-31 23:59:59+00'::timestamptz AS before
            """, ["Zoé 李 محمد", Int64.min])
        #expect(result.columns == ["t", "v", "i8", "i4", "i2", "at", "before"])
        let row = try #require(result.first)
        #expect(try row.string("t") == "Zoé 李 محمد")
        #expect(try row.string("v") == "ok")
        #expect(try row.int64("i8") == Int64.min)
        #expect(try row.int64("i4") == -7)
        #expect(try row.int64("i2") == -2)
        #expect(try row.date("at") == Date(timeIntervalSince1970: 1_795_838_651.25))
        #expect(try row.date("before") == Date(timeIntervalSince1970: 946_684_799))
    }

    @Test func nullWrongTypeAndMissingColumnAreErrors() throws {
        let connection = try freshConnection()
        let row = try #require(try connection.queryBinary("SELECT NULL::bytea AS n, 1::bigint AS i, 'x'::text AS t").first)
        #expect(row.isNull("n") && !row.isNull("i") && row.isNull("absent"))
        #expect(throws: PostgresError.self) { try row.bytes("n") }
        #expect(throws: PostgresError.self) { try row.bytes("i") }
        #expect(throws: PostgresError.self) { try row.string("i") }
        #expect(throws: PostgresError.self) { try row.int64("t") }
        #expect(throws: PostgresError.self) { try row.date("i") }
        #expect(throws: PostgresError.self) { try row.int64("absent") }
        do throws(PostgresError) {
            _ = try row.int64("t")
            Issue.record("text read as an integer")
        } catch {
            #expect(error.code == .decoding && error.column == "t")
        }
        #expect(throws: PostgresError.self) { try connection.queryBinary("SELECT nonsense") }
        #expect(throws: PostgresError.self) { try connection.queryBinary("SELECT $1::text", ["a\u{0}b"]) }
    }
}
