import ArgumentParser
import BackOffice
import Foundation

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The tamper-evident audit trail of dossier events.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute every dossier's event chain and name the dossiers whose history was altered.",
            discussion: "Exit code 1 when any history does not verify.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this structure's dossiers.") var structure: String?
        @Option(help: "table or json.") var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let report = try administration.verifyAudit(structure: structure)
                switch format {
                case .json:
                    print(try json(report))
                case .table:
                    print("\(counted(report.events, "event")) of \(counted(report.dossiers, "dossier")) checked")
                    if !report.breaks.isEmpty {
                        var table = Table(headers: ["DOSSIER", "EVENT", "WHAT"])
                        table.rows = report.breaks.map { [$0.dossier, $0.eventID.map(String.init) ?? "", $0.reason] }
                        print(table.render())
                    }
                }
                if !report.breaks.isEmpty {
                    throw BackOfficeError(.failure, "\(counted(report.breaks.count, "dossier history", "dossier histories")) \(report.breaks.count == 1 ? "does" : "do") not verify")
                }
            }
        }
    }
}
