import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Queue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The dossier queue, for administrators.", subcommands: [List.self, Stats.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dossiers and their queue work, oldest submission first.",
            discussion: """
                Without --state: what waits for someone — queued work, failed (parked) work and \
                dossiers awaiting review. --state takes dossier states (\(QueueFilter.names.dropLast(2).joined(separator: ", "))), \
                failed (parked queue work) or queued (queue work waiting for a worker); repeat it or \
                separate values with commas. --older-than takes 45m, 3h, 2d, 1d12h.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "Dossier states, failed or queued (repeatable, or comma-separated).") var state: [String] = []
        @Option(name: .customLong("older-than"), help: "Only dossiers submitted at least this long ago (2d, 3h, 1d12h).")
        var olderThan: String?
        @Option(help: "Only this structure's dossiers.") var structure: String?
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            for value in states where QueueFilter(value) == nil {
                throw ValidationError("--state \(value): expected one of \(QueueFilter.names.joined(separator: ", "))")
            }
            if let olderThan { _ = try CommandLineValue.duration(olderThan, option: "--older-than") }
        }

        private var states: [String] {
            state.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let entries = try administration.queueEntries(
                    filters: Set(states.compactMap(QueueFilter.init)),
                    olderThan: try olderThan.map { try CommandLineValue.duration($0, option: "--older-than").seconds },
                    structure: structure)
                print(try render(entries, format: format))
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Counts per structure: dossiers by state, waiting and failed work, decisions, emails.",
            discussion: "--format prometheus prints the text exposition format, for a metrics collector.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this structure.") var structure: String?
        @Option(help: "table, json or prometheus.") var format: StatsFormat = .table

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let stats = try administration.queueStats(structure: structure)
                switch format {
                case .json: print(try json(stats))
                case .prometheus: print(PrometheusExposition(stats).render(), terminator: "")
                case .table: print(renderStats(stats))
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put failed (parked) queue work back: attempts to 0, due now, last error kept.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The dossier: external id or internal id.") var id: String?
        @Flag(name: .customLong("all-failed"), help: "Every failed item (of --structure, when given).") var allFailed = false
        @Option(help: "With --all-failed: only this structure's items.") var structure: String?

        func validate() throws {
            if (id == nil) == !allFailed { throw ValidationError("give either a dossier ID or --all-failed") }
            if id != nil, structure != nil { throw ValidationError("--structure goes with --all-failed") }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let report =
                    if let id { try administration.retryFailed(dossier: id) } else {
                        try administration.retryAllFailed(structure: structure)
                    }
                let which = report.dossiers.isEmpty ? "" : ": " + report.dossiers.joined(separator: ", ")
                print("\(counted(report.count, "failed item")) re-queued\(which)")
            }
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

enum StatsFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, prometheus
}

func render(_ lines: [Administration.DossierLine], format: OutputFormat) throws -> String {
    switch format {
    case .json:
        return try json(lines)
    case .table:
        var table = Table(headers: ["DOSSIER", "STRUCTURE", "STATE", "KIDS", "RIGHTS", "FINDINGS"])
        table.rows = lines.map {
            [
                $0.externalID, $0.structure, $0.state.rawValue + ($0.queued ? " (queued)" : ""), String($0.children),
                String($0.rightsOpened), $0.findings.joined(separator: ", "),
            ]
        }
        return table.render()
    }
}

func render(_ entries: [QueueEntry], format: OutputFormat) throws -> String {
    switch format {
    case .json:
        return try json(entries)
    case .table:
        guard !entries.isEmpty else { return "no dossier matches" }
        var table = Table(headers: ["DOSSIER", "FAMILY", "CHILDREN", "SUBMITTED", "AGE", "STATE", "TRIES"])
        // Each dossier's day in its own structure's time zone: the day the family submitted it.
        table.rows = entries.map {
            [
                $0.externalID, cut($0.family, 14), cut($0.children.joined(separator: ","), 16),
                StructureTime($0.timeZone).day($0.submittedAt),
                formatAge($0.ageSeconds), $0.failed ? "failed" : $0.state.rawValue, String($0.attempts),
            ]
        }
        // Errors are long: one line each under the table, cut at 80 columns.
        let errors = entries.compactMap { entry in entry.lastError.map { cut("  \(entry.externalID)  \($0)", 80) } }
        if !errors.isEmpty { return table.render() + "\n\nLast errors:\n" + errors.joined(separator: "\n") }
        return table.render()
    }
}

func renderStats(_ stats: [StructureQueueStats]) -> String {
    var table = Table(headers: ["STRUCTURE", "SUB", "REV", "VAL", "RET", "REJ", "OPEN", "WAIT", "OLDEST", "FAIL", "MAIL"])
    table.rows = stats.map {
        let d = $0.dossiers
        return [
            $0.structure, "\(d["submitted"] ?? 0)", "\(d["awaiting_review"] ?? 0)", "\(d["validated"] ?? 0)",
            "\(d["returned"] ?? 0)", "\(d["rejected"] ?? 0)", "\(d["planning_open"] ?? 0)", "\($0.waiting)",
            $0.waiting == 0 ? "-" : formatAge($0.oldestWaitingSeconds), "\($0.failed)", "\($0.outboxPending)",
        ]
    }
    var decisions = Table(headers: ["STRUCTURE", "DECISIONS IN THE LAST HOUR"])
    decisions.rows = stats.map { structure in
        let counts = structure.decisionsLastHour.sorted { $0.key < $1.key }.filter { $0.value > 0 }
        return [structure.structure, counts.isEmpty ? "none" : counts.map { "\($0.value) \($0.key)" }.joined(separator: ", ")]
    }
    var emails = Table(headers: ["STRUCTURE", "EMAILS (DELIVERY TO THE MAIL RELAY)"])
    emails.rows = stats.map { structure in
        let counts = EmailDelivery.allCases.map { ($0.rawValue, structure.delivery[$0.rawValue] ?? 0) }.filter { $0.1 > 0 }
        let oldest = structure.oldestUnsentSeconds > 0 ? ", oldest unsent \(formatAge(structure.oldestUnsentSeconds))" : ""
        return [structure.structure, counts.isEmpty ? "none" : counts.map { "\($0.1) \($0.0)" }.joined(separator: ", ") + oldest]
    }
    return table.render() + "\n\n" + decisions.render() + "\n\n" + emails.render()
        + "\n\nDossiers: SUB submitted, REV awaiting review, VAL validated, RET returned, REJ rejected,\n"
        + "OPEN planning open. Queue: WAIT items due, OLDEST the oldest due item's wait, FAIL parked\n"
        + "items (eticket queue retry). MAIL emails not exported yet."
}

/// `3d4h`, `5h12m`, `7m30s`, `42s`: the two largest units.
func formatAge(_ seconds: Int) -> String {
    let days = seconds / 86_400
    let hours = seconds % 86_400 / 3_600
    let minutes = seconds % 3_600 / 60
    if days > 0 { return "\(days)d\(hours)h" }
    if hours > 0 { return "\(hours)h\(minutes)m" }
    if minutes > 0 { return "\(minutes)m\(seconds % 60)s" }
    return "\(seconds)s"
}

/// `text` cut to `width` characters with an ellipsis.
func cut(_ text: String, _ width: Int) -> String {
    text.count > width ? String(text.prefix(width - 1)) + "…" : text
}
