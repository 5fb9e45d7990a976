import ArgumentParser
import BackOffice
import CommandLineSupport
import Dossiers
import Foundation

struct Planning: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A child's reservation planning, as the family sees it.", subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a child's month: one calendar per service of the structure.",
            discussion: """
                The child is its id (children.id, see dossier show) or EXTERNALID/N: the dossier's \
                external id and the child's position in it from 1 (PTL-0001/1 is the first child of \
                PTL-0001).
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "The child: a child id, or EXTERNALID/N.") var child: String
        @Option(help: "The month, YYYY-MM.") var month: String
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            _ = try CommandLineValue.month(month, option: "--month")
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let planning = try administration.planning(child: child, month: month)
                print(format == .json ? try json(planning) : renderPlanning(planning))
            }
        }
    }
}

/// One Monday-to-Sunday calendar per service: each day is its number and its symbol, drawn by
/// the grid the planning-open email draws too.
func renderPlanning(_ planning: ChildPlanning) -> String {
    var out = [
        "\(planning.child) (child \(planning.childID), dossier \(planning.dossier), \(planning.structure)) — \(planning.month)"
    ]
    for service in planning.services {
        out.append("")
        let rights = service.rightsPeriods.isEmpty ? "no rights" : "rights: " + service.rightsPeriods.joined(separator: ", ")
        out.append("\(service.code) — \(service.label) (\(rights))")
        out += planning.grid(service).textLines(language: .en)
    }
    out.append("")
    out.append(PlanningGrid.legend([.reserved, .open, .closed, .notRunning], language: .en))
    out.append(PlanningGrid.legend([.noRights], language: .en) + "  (blank) outside the period")
    return out.joined(separator: "\n")
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
