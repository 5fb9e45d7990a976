import Foundation
import TestSupport
import Testing

/// What a new user meets first: no database named, a database never migrated, a mistyped
/// command, `--version`.
@Suite("First contact", .tags(.e2e))
struct FirstContactTests {
    @Test func noDatabaseConfiguredNamesTheFourWaysToGiveOne() throws {
        // CLI.environment holds no PG* nor ETICKET_* variable: libpq tries its default socket.
        let result = try CLI.run(["queue", "list"])
        #expect(result.status == 4)
        for way in [
            "--database-url", "ETICKET_DATABASE_URL",
            "\"database.url\" in the configuration file (--config, ETICKET_CONFIG, or the installed /etc/eticket/config.json)",
            "PGHOST", "PGSERVICE",
        ] {
            #expect(result.stderr.contains(way), "\(way): \(result.stderr)")
        }
        // Once libpq's environment names a server, libpq's own message is the whole story.
        let named = try Child(["queue", "list"], environment: ["PGHOST": "/nonexistent-socket-directory"]).wait(timeout: 60)
        #expect(named.status == 4)
        #expect(!named.stderr.contains("No database is configured"))
    }

    @Test func anUnmigratedDatabaseSaysToMigrate() throws {
        let conninfo = try Databases.empty()
        for command in [["queue", "list"], ["queue", "stats"], ["dossier", "show", "VLF-0001"], ["outbox", "list"]] {
            let result = try CLI.run(command + ["--database-url", conninfo])
            #expect(result.status == 1, "\(command): \(result.stderr)")
            #expect(result.stderr.contains("run `eticket db migrate`"), "\(command): \(result.stderr)")
        }
        let imported = try CLI.run(["dossiers", "import", "\(CLI.examples)/dossiers.jsonl", "--database-url", conninfo])
        #expect(
            imported.stderr.contains("this database is not migrated (no migration applied): run `eticket db migrate`"),
            "\(imported.stderr)")
    }

    @Test func aMistypedCommandSuggestsTheNearest() throws {
        let typo = try CLI.run(["queu", "list"])
        #expect(typo.status == 2)
        #expect(
            typo.stderr == """
                Error: unknown command `queu` for `eticket`: did you mean `queue`?
                Usage: eticket <subcommand>
                  See 'eticket --help' for more information.

                """)
        let nested = try CLI.run(["queue", "lst"])
        #expect(nested.status == 2)
        #expect(nested.stderr.contains("unknown command `lst` for `eticket queue`: did you mean `list`?"))
        let far = try CLI.run(["frobnicate"])
        #expect(far.status == 2)
        #expect(far.stderr.contains("one of demo, doctor, db,"))
        // Options and arguments are ArgumentParser's, as before.
        #expect(try CLI.run(["queue", "list", "--frob"]).status == 2)
        #expect(try CLI.run(["help", "queue"]).status == 0)
    }

    @Test func versionPrintsTheReleaseAndTheSchemaItExpects() throws {
        let migrations = try FileManager.default.contentsOfDirectory(atPath: CLI.root.appendingPathComponent("sql").path)
        let highest = try #require(migrations.compactMap { Int($0.prefix(3)) }.max())
        let result = try CLI.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.range(of: #"^eticket \d+\.\d+\.\d+ \(schema \#(highest)\)\n$"#, options: .regularExpression) != nil,
            "\(result.stdout)")
    }
}
