import ArgumentParser
import BackOffice
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

extension ChildPlanning.Day {
    var symbol: String {
        switch self {
        case .reserved: "●"
        case .open: "○"
        case .closed: "✕"
        case .notRunning: "-"
        case .noRights: "·"
        case .outsidePeriod: " "
        }
    }
}

/// One Monday-to-Sunday calendar per service: each day is its number and its symbol.
func renderPlanning(_ planning: ChildPlanning) -> String {
    let weekdayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    var out = ["\(planning.child) (child \(planning.childID), dossier \(planning.dossier), \(planning.structure)) — \(planning.month)"]
    for service in planning.services {
        out.append("")
        let rights = service.rightsPeriods.isEmpty ? "no rights" : "rights: " + service.rightsPeriods.joined(separator: ", ")
        out.append("\(service.code) — \(service.label) (\(rights))")
        out.append(weekdayNames.map { $0.leftPadded(to: 5) }.joined())
        var line = String(repeating: " ", count: 5 * (planning.firstWeekday - 1))
        for (index, day) in service.days.enumerated() {
            line += ("\(index + 1)" + day.symbol).leftPadded(to: 5)
            if (planning.firstWeekday - 1 + index) % 7 == 6 {
                out.append(line)
                line = ""
            }
        }
        if !line.isEmpty { out.append(line) }
    }
    out.append("")
    out.append("● reserved  ○ open to reserve  ✕ closed (holiday)  - service not running")
    out.append("· no rights for this service  (blank) outside the period")
    return out.joined(separator: "\n")
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
