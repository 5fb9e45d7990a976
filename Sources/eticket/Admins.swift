import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Admins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Which database roles administer which structures (row-level security).",
        discussion: """
            A role granted a structure joins eticket_admin and sees, even with hand-written SQL, \
            only the families, dossiers, decisions, emails and reservations of its structures.
            """,
        subcommands: [Grant.self, Revoke.self, List.self])

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a database role administer a structure.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "An existing database role.") var role: String
        @Option(help: "The structure's code.") var structure: String

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                try administration.grantAdmin(role: role, structure: structure)
                print("\(role) administers \(structure)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw a role from a structure.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The database role.") var role: String
        @Option(help: "The structure's code.") var structure: String

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let removed = try administration.revokeAdmin(role: role, structure: structure)
                print(removed ? "\(role) no longer administers \(structure)" : "\(role) did not administer \(structure)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List roles and their structures.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                var table = Table(headers: ["ROLE", "STRUCTURE", "SINCE"])
                table.rows = try administration.admins().map { [$0.role, $0.structure, "\($0.grantedAt)"] }
                print(table.render())
            }
        }
    }
}
