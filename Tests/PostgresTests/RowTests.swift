import Postgres
import Testing

@Suite struct RowTests {
    @Test func decodingNullNamesTheColumn() throws {
        let connection = try freshConnection()
        let row = try #require(try connection.query("SELECT NULL::int AS missing_count").first)
        let error = try #require(throws: PostgresError.self) { try row.decode(Int.self, "missing_count") }
        #expect(error.code == .decoding)
        #expect(error.column == "missing_count")
        #expect(error.message.contains("missing_count"))
        #expect(try row.decodeIfPresent(Int.self, "missing_count") == nil)
        #expect(row.isNull("missing_count"))
        #expect(row["missing_count"] == nil)
    }

    @Test func decodingTheWrongTypeNamesTheColumnAndType() throws {
        let connection = try freshConnection()
        let row = try #require(try connection.query("SELECT 'abc'::text AS label, 99999999999::bigint AS big").first)
        let error = try #require(throws: PostgresError.self) { try row.decode(Int.self, "label") }
        #expect(error.code == .decoding)
        #expect(error.column == "label")
        #expect(error.message.contains("Int"))
        let overflow = try #require(throws: PostgresError.self) { try row.decode(Int32.self, at: 1) }
        #expect(overflow.column == "big")
        #expect(throws: PostgresError.self, "a wrong type must not read as NULL") { try row.decodeIfPresent(Int.self, "label") }
    }

    @Test func readsByNameByPositionAndFromContext() throws {
        let connection = try freshConnection()
        let row = try #require(try connection.query("SELECT 42 AS answer, 'x' AS letter, NULL::text AS nothing").first)
        #expect(try row.decode(Int.self, "answer") == 42)
        #expect(try row.decode(String.self, at: 1) == "x")
        let inferred: Int = try row.decode("answer")
        #expect(inferred == 42)
        let optional: String? = try row.decodeIfPresent("nothing")
        #expect(optional == nil)
        #expect(row["letter"] == "x")
        #expect(row.columns == ["answer", "letter", "nothing"])
        #expect(!row.isNull("answer"))
    }

    @Test func unknownColumnIsAClientError() throws {
        let connection = try freshConnection()
        let row = try #require(try connection.query("SELECT 1 AS one").first)
        let error = try #require(throws: PostgresError.self) { try row.decode(Int.self, "two") }
        #expect(error.code == .client)
        #expect(error.message.contains("one"))
        #expect(throws: PostgresError.self) { try row.decode(Int.self, at: 3) }
    }
}
