import Foundation
import TestSupport
import Testing

/// `eticket demo` writes example families: it must never do so in a database with real ones.
@Suite("The demo keeps off real data", .tags(.e2e))
struct DemoTests {
    /// A database as an operator's would be: migrated, with the load's families queued.
    private func realDatabase() throws -> (conninfo: String, dossiers: Int) {
        let conninfo = try Databases.withLoad()
        return (conninfo, try Database(conninfo: conninfo).count("SELECT count(*) FROM dossiers"))
    }

    @Test func theEnvironmentsDatabaseIsLeftAloneForAThrowAwayOne() throws {
        let (conninfo, dossiers) = try realDatabase()
        let demo = try Child(["demo"], environment: ["ETICKET_DATABASE_URL": conninfo])
        let result = demo.wait(timeout: 300)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("the demo leaves it alone"))
        #expect(result.stdout.contains("(throw-away, in "))
        // The examples tell their story as on their day, whatever the date: VLF-0001's planning
        // is open (its school year is under way), PTL-0001 awaits review.
        #expect(result.stdout.contains("clock: 2026-12-03T12:00:00Z, the examples' day"))
        #expect(result.stdout.contains("planning_open") && result.stdout.contains("awaiting_review"))
        let database = Database(conninfo: conninfo)
        #expect(try database.count("SELECT count(*) FROM dossiers") == dossiers)
        #expect(try database.count("SELECT count(*) FROM email_outbox") == 0)
        #expect(try database.count("SELECT count(*) FROM pg_class WHERE relname = 'eticket_demo'") == 0)
    }

    @Test func aGivenDatabaseWithRealFamiliesIsRefused() throws {
        let (conninfo, dossiers) = try realDatabase()
        let result = try CLI.run(["demo", "--database-url", conninfo], timeout: 120)
        #expect(result.status == 1)
        #expect(result.stderr.contains("was not made by the demo"), "\(result.stderr)")
        let database = Database(conninfo: conninfo)
        #expect(try database.count("SELECT count(*) FROM dossiers") == dossiers)
        #expect(
            try database.count(
                "SELECT count(*) FROM dossier_events WHERE dossier_id IN (SELECT id FROM dossiers WHERE external_id LIKE 'VLF-%')"
            ) == 0)
    }

    /// Freshly migrated for production, still empty: not the demo's either.
    @Test func aMigratedEmptyDatabaseIsRefused() throws {
        let conninfo = try Databases.withStructures()
        let result = try CLI.run(["demo", "--database-url", conninfo], timeout: 120)
        #expect(result.status == 1)
        #expect(try Database(conninfo: conninfo).count("SELECT count(*) FROM dossiers") == 0)
    }

    /// An empty database given for the purpose becomes the demo's, and stays usable by the next
    /// demo; once real families come in, it is refused again.
    @Test func anEmptyGivenDatabaseIsTheDemosUntilItHoldsOtherFamilies() throws {
        let conninfo = try Databases.empty()
        let first = try CLI.run(["demo", "--database-url", conninfo], timeout: 300)
        #expect(first.status == 0, "\(first.stderr.suffix(2000))")
        #expect(first.stdout.contains("database: ") && first.stdout.contains("dbname="))
        #expect(!first.stdout.contains("throw-away"))
        let again = try CLI.run(["demo", "--database-url", conninfo], timeout: 300)
        #expect(again.status == 0, "\(again.stderr.suffix(2000))")

        try Databases.importLines(try Load.lines(count: 1, prefix: "REAL"), into: conninfo)
        let refused = try CLI.run(["demo", "--database-url", conninfo], timeout: 120)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("not the demo's examples"), "\(refused.stderr)")
    }
}
