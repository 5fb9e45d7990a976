import ArgumentParser
import BackOffice
import CommandLineSupport

struct Structures: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The structures whose dossiers are processed.", subcommands: [Apply.self, Retention.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update structures from a file (contracts/structures.schema.json).",
            discussion: "Idempotent: applying the same file twice changes nothing; what the file does not name is left as it is.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The structures file (JSON).") var file: String

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                try administration.requireMigrated()
                for (code, change) in try administration.applyStructures(file: file).structures {
                    print("\(code): \(change.rawValue)")
                }
            }
        }
    }
}

extension Structures {
    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set how long a structure keeps a returned dossier's personal data (default 365 days).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The structure's code.") var structure: String
        @Option(help: "Days after the return.") var days: Int

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                try administration.setRetention(structure: structure, days: days)
                print("\(structure) keeps returned dossiers' personal data \(counted(days, "day"))")
            }
        }
    }
}
