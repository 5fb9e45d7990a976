import Foundation
import Testing

@testable import BackOffice
@testable import ETicketBench

@Suite("Bench: what each statement of a phase cost, from pg_stat_statements")
struct BenchStatementsTests {
    /// The test cluster loads pg_stat_statements, as the bench's own cluster does.
    @Test func theCostliestStatementsAreThoseRunSinceTheSnapshot() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let statements = try #require(BenchStatements.open(connection))
        try connection.execute(script: "CREATE TABLE measured (id int PRIMARY KEY, body text)")
        try connection.query("INSERT INTO measured SELECT g, repeat('x', 500) FROM generate_series(1, 10) g")
        let start = try statements.snapshot()
        for batch in 1...4 {
            try connection.query(
                "INSERT INTO measured SELECT g, repeat('y', 500) FROM generate_series($1::int, $1::int + 99) g", [batch * 1000])
        }
        try connection.query("SELECT count(*) FROM measured")

        let costliest = BenchStatements.costliest(5, from: start, to: try statements.snapshot(), items: 400)
        let insert = try #require(costliest.first { $0.query.hasPrefix("INSERT INTO measured") })
        // Only the four calls since the snapshot, and per item of the phase.
        #expect(insert.calls == 4)
        #expect(insert.rows == 400)
        #expect(insert.walBytesPerItem > 500)
        #expect(insert.msPerItem > 0)
        #expect(costliest.contains { $0.query.hasPrefix("SELECT count(*) FROM measured") })
        #expect(!costliest.contains { $0.query.contains("pg_stat_statements") })
        #expect(costliest.map(\.share).reduce(0, +) <= 1.001)
        #expect(costliest.map(\.msPerItem) == costliest.map(\.msPerItem).sorted(by: >))
    }

    /// The bench leaves the database as it found it: an extension it created goes, one it found stays.
    @Test func anExtensionItCreatedGoesAndOneItFoundStays() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        func installed() throws -> Int? {
            try connection.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'", as: Int.self)
        }
        try #require(BenchStatements.open(connection)).close()
        #expect(try installed() == 0)
        try connection.execute(script: "CREATE EXTENSION pg_stat_statements")
        try #require(BenchStatements.open(connection)).close()
        #expect(try installed() == 1)
    }

    /// A role that may not create the extension gets no statistics, and the database no extension.
    @Test func withoutTheExtensionThereAreNoneAndNothingIsLeft() throws {
        let conninfo = try Fixture.migratedDatabase()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        let role = "bench_\(UUID().uuidString.prefix(8).lowercased())"
        try owner.execute(script: "CREATE ROLE \(role) LOGIN")
        let plain = try Fixture.connection("\(conninfo) user=\(role)")
        defer { plain.close() }
        #expect(BenchStatements.open(plain) == nil)
        #expect(try owner.scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'", as: Int.self) == 0)
    }

    @Test func aStatementIsShownOnOneShortLine() {
        #expect(BenchStatements.shortened("SELECT a,\n       b\tFROM  t") == "SELECT a, b FROM t")
        let long = BenchStatements.shortened("SELECT " + String(repeating: "column, ", count: 40))
        #expect(long.count == 120)
        #expect(long.hasSuffix("…"))
        // A long WITH clause gives way to the write the statement does; a short one stays.
        #expect(
            BenchStatements.shortened(
                "WITH input AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS i(a, b)) INSERT INTO decisions (a) SELECT a FROM input"
            )
                == "WITH … INSERT INTO decisions (a) SELECT a FROM input")
        #expect(
            BenchStatements.shortened("WITH opened AS (INSERT INTO rights (a) VALUES (1) RETURNING a) SELECT a FROM opened")
                == "WITH opened AS (INSERT INTO rights (a) VALUES (1) RETURNING a) SELECT a FROM opened")
    }
}
