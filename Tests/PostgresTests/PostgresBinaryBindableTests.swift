import Postgres
import Testing

@Suite struct PostgresBinaryBindableTests {
    static let samples: [[UInt8]] = [
        (0...255).map { UInt8($0) }, [], [0], Array("café, \"quoted\" \\ {braces}".utf8),
        [UInt8](repeating: 0x5c, count: 1 << 20),
    ]

    @Test func aByteaArraySentInBinaryIsTheValueItsTextNames() throws {
        let connection = try freshConnection()
        let binary = PostgresByteaArray(Self.samples)
        let row = try #require(
            try connection.query(
                "SELECT $1::bytea[] = $2::bytea[] AS same, cardinality($1::bytea[]) AS n, octet_length(($1::bytea[])[5]) AS big",
                [binary, binary.postgresText]
            ).first)
        #expect(try row.decode(Bool.self, "same"))
        #expect(try row.decode(Int.self, "n") == 5)
        #expect(try row.decode(Int.self, "big") == 1 << 20)
        let back = try #require(try connection.query("SELECT $1::bytea[] AS v", [binary]).first)
        #expect(try back.decode([PostgresBytes].self, "v").map(\.bytes) == Self.samples)
    }

    @Test func anEmptyArrayIsEmptyNotNull() throws {
        let connection = try freshConnection()
        let row = try #require(
            try connection.query("SELECT $1::bytea[] IS NULL AS null, cardinality($1::bytea[]) AS n", [PostgresByteaArray([])])
                .first)
        #expect(try row.decode(Bool.self, "null") == false)
        #expect(try row.decode(Int.self, "n") == 0)
    }

    @Test func binaryAndTextParametersMixInOneStatement() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE files (name text, content bytea, note text)")
        try connection.query(
            "INSERT INTO files SELECT $1 || n, c, $3 FROM unnest($2::bytea[]) WITH ORDINALITY AS f(c, n)",
            ["file-", PostgresByteaArray([[1, 2], [0, 0, 0]]), nil])
        let rows = try connection.query("SELECT name, content, note IS NULL AS no_note FROM files ORDER BY name")
        #expect(try rows.map { try $0.decode(String.self, "name") } == ["file-1", "file-2"])
        #expect(try rows.map { try $0.decode([UInt8].self, "content") } == [[1, 2], [0, 0, 0]])
        #expect(try rows.allSatisfy { try $0.decode(Bool.self, "no_note") })
    }

    @Test func aTextParameterRefusedAfterABinaryOneFreesBothAndSendsNothing() throws {
        let connection = try freshConnection()
        #expect {
            try connection.query("SELECT $1::bytea[], $2", [PostgresByteaArray([[1, 2, 3]]), "a\u{0}b"])
        } throws: { error in
            (error as? PostgresError)?.code == .client && (error as? PostgresError)?.message.contains("$2") == true
        }
        #expect(try serverValue("1", as: Int.self, on: connection) == 1)
    }

    @Test func aBinaryParameterOfTheWrongTypeIsRefusedByTheServer() throws {
        let connection = try freshConnection()
        #expect {
            try connection.query("SELECT $1::int[]", [PostgresByteaArray([[1]])])
        } throws: { error in
            (error as? PostgresError)?.sqlState == "42846"
        }
    }

    static let strings = [
        "", "NULL", "null", "a,b", "{braces}", "\"quoted\"", "back\\slash", " spaced ", "café ☕", "\u{1F600}",
        "{\"json\":\"with \\\"escapes\\\"\"}", String(repeating: "\\\"", count: 50_000),
    ]

    @Test func textAndBigintArraysSentInBinaryAreTheValuesTheirTextNames() throws {
        let connection = try freshConnection()
        let numbers: [Int64] = [0, 1, -1, .min, .max, 42]
        let row = try #require(
            try connection.query(
                """
                SELECT $1::text[] = $2::text[] AS same_text, $3::bigint[] = $4::bigint[] AS same_numbers,
                       cardinality($1::text[]) AS n, $1::text[] AS strings, $3::bigint[] AS numbers
                """,
                [Self.strings.postgresBinary, Self.strings.postgresText, numbers.postgresBinary, numbers.postgresText]
            ).first)
        #expect(try row.decode(Bool.self, "same_text"))
        #expect(try row.decode(Bool.self, "same_numbers"))
        #expect(try row.decode(Int.self, "n") == Self.strings.count)
        #expect(try row.decode([String].self, "strings") == Self.strings)
        #expect(try row.decode([Int64].self, "numbers") == numbers)
    }

    @Test func emptyBinaryArraysAreEmptyNotNull() throws {
        let connection = try freshConnection()
        let row = try #require(
            try connection.query(
                "SELECT $1::text[] IS NULL OR $2::bigint[] IS NULL AS null, cardinality($1::text[]) + cardinality($2::bigint[]) AS n",
                [[String]().postgresBinary, [Int64]().postgresBinary]
            ).first)
        #expect(try row.decode(Bool.self, "null") == false)
        #expect(try row.decode(Int.self, "n") == 0)
    }

    @Test func binaryArraysUnnestSideBySide() throws {
        let connection = try freshConnection()
        let rows = try connection.query(
            "SELECT i, t FROM unnest($1::bigint[], $2::text[]) AS u(i, t) ORDER BY i",
            [[Int64(2), 1].postgresBinary, ["two", "one"].postgresBinary])
        #expect(try rows.map { try $0.decode(Int64.self, "i") } == [1, 2])
        #expect(try rows.map { try $0.decode(String.self, "t") } == ["one", "two"])
    }

    /// A binary array is typed, where a text one is not: its statement must take it as what it
    /// is (`PostgresBinaryArray`'s rule), or the server says so instead of guessing.
    @Test func aBinaryTextArrayIsTextNotAnEnum() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TYPE mood AS ENUM ('calm', 'busy')")
        let guessed = try #require(try connection.query("SELECT 'calm'::mood = ANY($1) AS calm", [["calm"]]).first)
        #expect(try guessed.decode(Bool.self, "calm"))
        #expect {
            try connection.query("SELECT 'calm'::mood = ANY($1)", [["calm"].postgresBinary])
        } throws: { error in
            (error as? PostgresError)?.sqlState == "42883"
        }
        let cast = try #require(
            try connection.query("SELECT 'calm'::mood = ANY($1::text[]::mood[]) AS calm", [["calm"].postgresBinary]).first)
        #expect(try cast.decode(Bool.self, "calm"))
    }

    @Test func aNulInABinaryTextArrayIsRefusedByTheServer() throws {
        let connection = try freshConnection()
        #expect {
            try connection.query("SELECT $1::text[]", [["a\u{0}b"].postgresBinary])
        } throws: { error in
            (error as? PostgresError)?.sqlState == "22021"
        }
        #expect(try serverValue("1", as: Int.self, on: connection) == 1)
    }
}
