import Postgres
import Synchronization
import TestSupport
import Testing

@testable import LocalPostgres

@Suite struct TestDatabasesTests {
    @Test func eachDatabaseIsFreshAndSeparate() throws {
        let databases = try TestDatabases.shared()
        let first = try Connection(try databases.create())
        let second = try Connection(try databases.create())
        try first.execute(script: "CREATE TABLE only_here (x int)")
        let names = try [first, second].map { connection in
            try #require(try connection.query("SELECT current_database() AS d").first).decode(String.self, "d")
        }
        #expect(names[0] != names[1])
        #expect(names.allSatisfy { $0.hasPrefix("t_") })
        let error = try #require(throws: PostgresError.self) { try second.query("SELECT * FROM only_here") }
        #expect(error.sqlState == "42P01")
    }

    @Test func templateIsPreparedOnceAndCopied() throws {
        let databases = try TestDatabases.shared()
        let preparations = Atomic<Int>(0)
        let prepare: (String) throws -> Void = { conninfo in
            preparations.add(1, ordering: .relaxed)
            let connection = try Connection(conninfo)
            defer { connection.close() }
            try connection.execute(script: "CREATE TABLE migrated (x int); INSERT INTO migrated VALUES (7)")
        }
        let template = try databases.template(named: "schema_v1", prepare: prepare)
        #expect(try databases.template(named: "schema_v1", prepare: prepare) == template)
        #expect(preparations.load(ordering: .relaxed) == 1)

        let copy = try Connection(try databases.create(template: template))
        try copy.query("INSERT INTO migrated VALUES (8)")
        let other = try Connection(try databases.create(template: template))
        let row = try #require(try other.query("SELECT count(*) AS n FROM migrated").first)
        #expect(try row.decode(Int.self, "n") == 1)
    }

    @Test func templateFailureIsRemembered() throws {
        let databases = try TestDatabases.shared()
        struct Broken: Error {}
        #expect(throws: Broken.self) { try databases.template(named: "broken", prepare: { _ in throw Broken() }) }
        #expect(throws: Broken.self) { try databases.template(named: "broken", prepare: { _ in }) }
    }
}
