import ArgumentParser
import BackOffice
import Foundation

struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The dossier queue, for administrators.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dossiers and where they stand, oldest first.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this structure's dossiers.") var structure: String?
        @Option(help: "table or json.") var format: OutputFormat = .table

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                print(try render(administration.dossiers(structure: structure), format: format))
            }
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

func render(_ lines: [Administration.DossierLine], format: OutputFormat) throws -> String {
    switch format {
    case .json:
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(lines), as: UTF8.self)
    case .table:
        var table = Table(headers: ["DOSSIER", "STRUCTURE", "STATE", "KIDS", "RIGHTS", "FINDINGS"])
        table.rows = lines.map {
            [
                $0.externalID, $0.structure, $0.state + ($0.queued ? " (queued)" : ""), String($0.children),
                String($0.rightsOpened), $0.findings.joined(separator: ", "),
            ]
        }
        return table.render()
    }
}
