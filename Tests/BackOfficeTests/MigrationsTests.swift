import BackOffice
import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite("Migrations: applied once, in order, never edited")
struct MigrationsTests {
    /// The versions of `sql/`, from the files themselves.
    static func versions() throws -> [Int] {
        try Migration.load(directory: Fixture.sql).map(\.version)
    }

    @Test func aFreshDatabaseGetsEveryMigration() throws {
        let conninfo = try TestDatabases.shared().create()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }

        let before = try administration.migrationStatus(directory: Fixture.sql)
        #expect(before.map(\.state) == Array(repeating: .pending, count: try Self.versions().count))

        let applied = try administration.migrate(directory: Fixture.sql)
        #expect(applied == (try Self.versions()))
        #expect(applied.first == 1 && applied.count >= 5)

        let status = try administration.migrationStatus(directory: Fixture.sql)
        #expect(status.map(\.version) == applied)
        #expect(status.allSatisfy { $0.state == .applied && $0.appliedAt != nil })

        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM schema_migrations", as: Int.self) == applied.count)
        #expect(try connection.scalar("SELECT to_regclass('email_outbox') IS NOT NULL", as: Bool.self) == true)
    }

    @Test func aSecondRunIsANoOp() throws {
        let conninfo = try Fixture.migratedDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let appliedAt = try connection.scalar("SELECT max(applied_at)::text FROM schema_migrations", as: String.self)

        #expect(try administration.migrate(directory: Fixture.sql) == [])
        #expect(try administration.migrate(directory: Fixture.sql) == [])
        #expect(try connection.scalar("SELECT count(*) FROM schema_migrations", as: Int.self) == (try Self.versions()).count)
        #expect(try connection.scalar("SELECT max(applied_at)::text FROM schema_migrations", as: String.self) == appliedAt)
        #expect(try administration.migrationStatus(directory: Fixture.sql).allSatisfy { $0.state == .applied })
    }

    @Test func aMigrationEditedAfterItWasAppliedIsRefused() throws {
        let conninfo = try Fixture.migratedDatabase()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        var migrations = try Migration.load(directory: Fixture.sql)
        let index = try #require(migrations.firstIndex { $0.version == 3 })
        migrations[index].sql += "\n-- edited after it landed\n"
        let migrator = Migrator(migrations: migrations, logger: Fixture.logger)

        let error = try #require(throws: BackOfficeError.self) { try migrator.migrate(connection) }
        #expect(error.code == .schema)
        #expect(error.message.contains("migration 3"))
        #expect(error.message.contains(migrations[index].name))

        let status = try migrator.status(connection)
        #expect(status.first { $0.version == 3 }?.state == .changed)
        #expect(status.filter { $0.version != 3 }.allSatisfy { $0.state == .applied })
        // The unedited files still match.
        #expect(
            try Migrator(migrations: Migration.load(directory: Fixture.sql), logger: Fixture.logger).migrate(connection) == [])
    }

    @Test func aMigrationTheFilesNoLongerHaveIsReportedUnknown() throws {
        let conninfo = try Fixture.migratedDatabase()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let migrations = try Migration.load(directory: Fixture.sql).filter { $0.version != 5 }
        let status = try Migrator(migrations: migrations, logger: Fixture.logger).status(connection)
        #expect(status.first { $0.version == 5 }?.state == .unknown)
        #expect(status.first { $0.version == 5 }?.name == "email_outbox")
    }

    @Test func twoMigratorsOnOneEmptyDatabaseApplyEachVersionOnce() throws {
        let conninfo = try TestDatabases.shared().create()
        let migrations = try Migration.load(directory: Fixture.sql)
        let results = Mutex<[Result<[Int], any Error>]>([])
        let threads = (0..<2).map { _ in
            Thread {
                let result = Result { () throws -> [Int] in
                    let connection = try Connection(conninfo)
                    defer { connection.close() }
                    return try Migrator(migrations: migrations, logger: Fixture.logger).migrate(connection)
                }
                results.withLock { $0.append(result) }
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(120)
        while results.withLock({ $0.count }) < 2 && Date() < deadline { usleep(20_000) }

        let outcomes = results.withLock { $0 }
        try #require(outcomes.count == 2)
        let applied = try outcomes.map { try $0.get() }
        // One migrator applied everything, the other found nothing left to do.
        #expect(applied.flatMap { $0 }.sorted() == migrations.map(\.version))
        #expect(applied.contains([]))

        let connection = try Connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM schema_migrations", as: Int.self) == migrations.count)
        #expect(
            try connection.scalar("SELECT count(DISTINCT version) FROM schema_migrations", as: Int.self) == migrations.count)
    }

    /// Roles are the cluster's, the migrators' lock one database's: a migration that creates a
    /// role where missing can lose a race to another database's, and is then applied again.
    @Test func aMigrationThatLosesARoleRaceToAnotherDatabaseIsAppliedAgain() throws {
        let role = "etk_race_\(getpid())"
        let other = try Connection(try TestDatabases.shared().create())
        defer {
            _ = try? other.query("DROP ROLE IF EXISTS \(role)")
            other.close()
        }
        // Another database's migration has created the role and not committed yet.
        try other.query("BEGIN")
        try other.query("CREATE ROLE \(role) NOLOGIN")

        let conninfo = try TestDatabases.shared().create()
        let migration = Migration(
            version: 1, name: "role",
            sql: """
                DO $$ BEGIN
                    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '\(role)') THEN CREATE ROLE \(role) NOLOGIN; END IF;
                END $$;
                """)
        let result = Mutex<Result<[Int], any Error>?>(nil)
        let thread = Thread {
            let outcome = Result { () throws -> [Int] in
                let connection = try Connection(conninfo)
                defer { connection.close() }
                return try Migrator(migrations: [migration], logger: Fixture.logger).migrate(connection)
            }
            result.withLock { $0 = outcome }
        }
        thread.start()
        // The migrator finds no role and waits on the other's uncommitted one; then it commits.
        // (Watched from a third session: one inside a transaction keeps seeing its first snapshot.)
        let watcher = try Connection(conninfo)
        defer { watcher.close() }
        let waiting = Date().addingTimeInterval(30)
        while try watcher.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND backend_type = 'client backend'",
            as: Int.self) == 0, Date() < waiting
        {
            usleep(10_000)
        }
        try other.query("COMMIT")
        let deadline = Date().addingTimeInterval(60)
        while result.withLock({ $0 == nil }) && Date() < deadline { usleep(10_000) }
        #expect(try result.withLock { try $0?.get() } == [1])
    }

    /// A directory of migration files named `names`, each creating nothing.
    static func directory(_ names: [String]) throws -> String {
        let directory = TestFiles.directory.appendingPathComponent("migrations-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in names {
            try Data("SELECT 1;\n".utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory.path
    }

    @Test func migrationsLoadInVersionOrderNotNameOrder() throws {
        let migrations = try Migration.load(directory: try Self.directory(["9_nine.sql", "010_ten.sql", "2_two.sql", "README"]))
        #expect(migrations.map(\.version) == [2, 9, 10])
        #expect(migrations.map(\.name) == ["two", "nine", "ten"])
    }

    @Test(arguments: [["001_a.sql", "1_b.sql"], ["001_a.sql", "002_b.sql", "1_c.sql"]])
    func aVersionUsedTwiceIsRefused(names: [String]) throws {
        let error = try #require(throws: BackOfficeError.self) { try Migration.load(directory: try Self.directory(names)) }
        #expect(error.code == .schema)
        #expect(error.message.contains("version 1 is used twice"))
    }

    @Test(arguments: ["one.sql", "x_one.sql", "001.sql"])
    func aMisnamedMigrationIsRefused(name: String) throws {
        let error = try #require(throws: BackOfficeError.self) { try Migration.load(directory: try Self.directory([name])) }
        #expect(error.code == .schema)
        #expect(error.message.contains("\(name): a migration is named NNN_name.sql"))
    }

    @Test func aMigrationThatFailsLeavesNoTrace() throws {
        let conninfo = try Fixture.migratedDatabase()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let migrations =
            try Migration.load(directory: Fixture.sql) + [
                Migration(
                    version: 900, name: "broken", sql: "CREATE TABLE half_done (id int);\nSELECT no_such_column FROM half_done;")
            ]
        let error = try #require(throws: BackOfficeError.self) {
            try Migrator(migrations: migrations, logger: Fixture.logger).migrate(connection)
        }
        #expect(error.message.contains("no_such_column"))
        #expect(try connection.scalar("SELECT to_regclass('half_done') IS NULL", as: Bool.self) == true)
        #expect(try connection.scalar("SELECT count(*) FROM schema_migrations WHERE version = 900", as: Int.self) == 0)
    }
}
