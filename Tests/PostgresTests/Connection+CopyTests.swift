import Postgres
import Testing

@Suite struct ConnectionCopyTests {
    @Test func loadsTenThousandAwkwardRows() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (id int, a text, b text)")
        let awkward = ["tab\there", "new\nline", "back\\slash", "\\N", "cr\r", "", "Zoë 🎒", "end\\"]
        let rows = (0..<10_000).lazy.map { index -> [String?] in
            [String(index), awkward[index % awkward.count], index % 3 == 0 ? nil : "row \(index)"]
        }
        let copied = try connection.copyIn("COPY t (id, a, b) FROM STDIN", rows: rows)
        #expect(copied == 10_000)
        #expect(try serverValue("(SELECT count(*) FROM t)", as: Int.self, on: connection) == 10_000)
        #expect(try serverValue("(SELECT count(*) FROM t WHERE b IS NULL)", as: Int.self, on: connection) == 3334)
        for row in try connection.query("SELECT id, a, b FROM t WHERE id < 24 OR id > 9990 ORDER BY id") {
            let id = try row.decode(Int.self, "id")
            #expect(try row.decode(String.self, "a") == awkward[id % awkward.count])
            #expect(try row.decodeIfPresent(String.self, "b") == (id % 3 == 0 ? nil : "row \(id)"))
        }
    }

    @Test func rejectedDataLoadsNothingAndLeavesTheConnectionUsable() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (id int)")
        let error = try #require(throws: PostgresError.self) {
            try connection.copyIn("COPY t FROM STDIN", rows: [["1"], ["two"], ["3"]])
        }
        #expect(error.code == .server)
        #expect(error.sqlState == "22P02")
        #expect(try serverValue("(SELECT count(*) FROM t)", as: Int.self, on: connection) == 0)
    }

    @Test func nulCharacterCancelsTheCopy() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (a text)")
        let error = try #require(throws: PostgresError.self) {
            try connection.copyIn("COPY t FROM STDIN", rows: [["fine"], ["bad\u{0}"]])
        }
        #expect(error.code == .client)
        #expect(try serverValue("(SELECT count(*) FROM t)", as: Int.self, on: connection) == 0)
    }

    @Test func notACopyStatementIsMisuse() throws {
        let connection = try freshConnection()
        let error = try #require(throws: PostgresError.self) { try connection.copyIn("SELECT 1", rows: [[String?]]()) }
        #expect(error.code == .client)
        #expect(try serverValue("1", as: Int.self, on: connection) == 1)
    }

    @Test func emptyInputCopiesNothing() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (a text)")
        #expect(try connection.copyIn("COPY t FROM STDIN", rows: [[String?]]()) == 0)
    }
}
