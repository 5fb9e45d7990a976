import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct DossiersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dossiers", abstract: "Families' dossiers.", subcommands: [Import.self, Purge.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import submitted dossiers (JSON Lines, contracts/dossier.schema.json) and queue them.",
            discussion: """
                Each line is checked against the contract. A bad line is reported with its line \
                number, JSON path and reason, written to the rejects file, and nothing of it is \
                stored; good lines are stored and queued. Exit code 0 when every line was accepted, \
                3 when any was rejected.
                """)
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The JSON Lines file, or - for standard input.") var file: String
        @Option(help: "Write refused lines here, one JSON object each (line, reasons, input).") var rejects: String?
        @Option(
            help: """
                Batches stored at once, each in its own transaction (1 keeps the file's order in \
                commits and in the rejects file).
                """)
        var connections = 2

        func validate() throws {
            guard (1...16).contains(connections) else {
                throw ValidationError("--connections must be between 1 and 16, not \(connections)")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                try administration.requireMigrated()
                let report = try administration.importDossiers(file: file, rejectsPath: rejects, connections: connections)
                for rejected in report.rejected {
                    for reason in rejected.reasons { printError("\(file):\(rejected.line): \(reason)") }
                }
                print(
                    "\(counted(report.lines, "line")): \(report.created) new, \(report.resubmitted) resubmitted, "
                        + "\(report.rejected.count) rejected\(rejects != nil && !report.rejected.isEmpty ? " (see \(rejects ?? ""))" : "")"
                )
                if !report.rejected.isEmpty { throw ExitCode(ExitStatus.badInput) }
            }
        }
    }
}

extension DossiersCommand {
    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove families' personal data from dossiers returned long ago.",
            discussion: """
                A dossier is purged when it was returned before --returned-before and longer ago than its \
                structure's retention (eticket structures retention). Its children, guardians, trusted \
                persons, documents, notes, content and emails go; decisions, events and a record of the \
                purge stay.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only dossiers returned before this date (YYYY-MM-DD, or RFC 3339).") var returnedBefore: String
        @Option(help: "Only this structure's dossiers.") var structure: String?
        @Flag(help: "List what would be purged; change nothing.") var dryRun = false

        func validate() throws {
            _ = try CommandLineValue.dateOrTimestamp(returnedBefore, option: "--returned-before")
        }

        func run() async throws {
            try await reportingErrors {
                let before = try CommandLineValue.dateOrTimestamp(returnedBefore, option: "--returned-before")
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let purged = try administration.purge(returnedBefore: before, structure: structure, dryRun: dryRun)
                var table = Table(headers: ["DOSSIER", "STRUCTURE", "RETURNED AT"])
                table.rows = purged.map { [$0.dossier, $0.structure, StructureTime($0.timeZone).string($0.returnedAt)] }
                if !purged.isEmpty { print(table.render()) }
                let dossiers = counted(purged.count, "dossier")
                print(dryRun ? "\(dossiers) would be purged (dry run)" : "\(dossiers) purged")
            }
        }
    }
}
