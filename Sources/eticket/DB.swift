import ArgumentParser
import BackOffice
import CommandLineSupport
import Logging

struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "The database schema.", subcommands: [Migrate.self, Status.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the pending migrations of sql/, each in its own transaction.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let applied = try administration.migrate()
                print(
                    applied.isEmpty
                        ? "schema up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show which migrations are applied.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let statuses = try administration.migrationStatus()
                var table = Table(headers: ["VERSION", "NAME", "STATE", "APPLIED AT"])
                table.rows = statuses.map {
                    [String($0.version), $0.name, $0.state.rawValue, $0.appliedAt.map { "\($0)" } ?? ""]
                }
                print(table.render())
                if statuses.contains(where: { $0.state == .changed || $0.state == .unknown }) {
                    throw BackOfficeError(.failure, "the schema does not match sql/: see the states above")
                }
            }
        }
    }
}
