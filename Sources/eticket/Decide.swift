import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Decide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An administrator's decision: approve, return or reject a dossier.",
        discussion: """
            eticket decide ID approve|return|reject --by NAME [--reason TEXT]
            eticket decide approve|return|reject --all-awaiting --structure CODE --by NAME [--reason TEXT]

            approve and reject need a dossier awaiting review; return also takes a validated one, \
            whose reservation rights (and reservations) are removed. The decision, its event, the \
            rights the structure opens after an approval and the family's email are written in one \
            transaction; a refused decision writes nothing and exits 1.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The dossier's id, then approve, return or reject (only the verdict with --all-awaiting).")
    var words: [String] = []
    @Option(help: "Why; the family reads it. Required for return and reject.") var reason: String?
    @Option(help: "The administrator deciding, recorded as admin:NAME.") var by: String
    @Option(help: "The dossier's structure (checked), or the structure of --all-awaiting.") var structure: String?
    @Flag(help: "Decide every dossier of --structure awaiting review.") var allAwaiting = false
    @Option(help: "table or json.") var format: OutputFormat = .table

    private var parsed: (dossier: String?, verdict: Verdict)? {
        switch (allAwaiting, words.count) {
        case (true, 1): Verdict(rawValue: words[0]).map { (nil, $0) }
        case (false, 2): Verdict(rawValue: words[1]).map { (words[0], $0) }
        default: nil
        }
    }

    func validate() throws {
        guard let parsed else {
            throw ValidationError(
                allAwaiting
                    ? "with --all-awaiting give the verdict only: approve, return or reject"
                    : "give the dossier's id and the verdict: eticket decide ID approve|return|reject")
        }
        if allAwaiting, structure == nil { throw ValidationError("--all-awaiting needs --structure CODE") }
        if parsed.verdict != .approve, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("\(parsed.verdict.rawValue) needs --reason: the family reads it")
        }
    }

    func run() async throws {
        try await reportingErrors {
            guard let parsed else { throw ValidationError("no verdict") }
            let settings = try await Settings.load(options)
            let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
            defer { administration.close() }
            let outbox = try EmailOutbox(directory: settings.templatesDirectory)
            let report =
                if let dossier = parsed.dossier {
                    try administration.decide(
                        dossier, parsed.verdict, reason: reason, by: by, structure: structure, outbox: outbox)
                } else {
                    try administration.decideAllAwaiting(
                        structure: structure ?? "", parsed.verdict, reason: reason, by: by, outbox: outbox)
                }
            print(try render(report, format: format))
        }
    }
}

func render(_ report: DecisionReport, format: OutputFormat) throws -> String {
    switch format {
    case .json:
        return try json(report)
    case .table:
        guard !report.decided.isEmpty else { return "no dossier awaiting review: nothing decided" }
        var table = Table(headers: ["DOSSIER", "FROM", "TO", "DECISION"])
        table.rows = report.decided.map { [$0.externalID, $0.from.rawValue, $0.to.rawValue, String($0.decisionID)] }
        var lines = [table.render(), "\(counted(report.decided.count, "dossier")) decided by \(report.decidedBy)"]
        if report.planningOpened > 0 {
            lines.append(
                "planning opened for \(counted(report.planningOpened, "dossier")) "
                    + "(\(counted(report.childrenWithRights, "child", "children")))")
        }
        if report.openingsScheduled > 0 {
            lines.append("\(counted(report.openingsScheduled, "rights opening")) scheduled for the periods' planning dates")
        }
        if report.rightsRemoved > 0 || report.reservationsRemoved > 0 || report.openingsCancelled > 0 {
            lines.append(
                "reservation rights removed: \(report.rightsRemoved) (with \(counted(report.reservationsRemoved, "reservation"))); "
                    + "scheduled openings cancelled: \(report.openingsCancelled)")
        }
        lines.append("\(counted(report.emails, "email")) queued in the outbox")
        return lines.joined(separator: "\n")
    }
}
