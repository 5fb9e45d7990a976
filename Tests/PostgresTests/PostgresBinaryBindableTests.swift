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
}
