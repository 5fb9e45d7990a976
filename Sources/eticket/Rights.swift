import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Rights: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reservation rights, for administrators.", subcommands: [Open.self])

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a period's reservation rights for every validated dossier of a structure.",
            discussion: """
                Idempotent: rights are never opened twice, and each family gets one planning-open \
                email per period. With --at in the future the opening is queued for that time and \
                carried out by the worker or the batch run; --at now or in the past opens now.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "The structure's code.") var structure: String
        @Option(help: "The period's code.") var period: String
        @Option(help: "Only this service (default: every service the children asked for).") var service: String?
        @Option(help: "When to open: RFC 3339 (2027-01-15T09:00:00+01:00) or YYYY-MM-DD HH:MM in the structure's time zone.")
        var at: String?
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            // The form only: a local time is read in the structure's zone, known once connected.
            if let at { _ = try CommandLineValue.instant(at, option: "--at", timeZone: .gmt) }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                defer { administration.close() }
                // A time without an offset is the structure's local time, wherever this runs.
                let when = try at.map { text in
                    let zone = CommandLineValue.isLocalTime(text) ? try administration.timeZone(ofStructure: structure) : .gmt
                    return try CommandLineValue.instant(text, option: "--at", timeZone: zone)
                }
                let report = try administration.openRights(
                    structure: structure, period: period, service: service, at: when,
                    outbox: try EmailOutbox(directory: settings.templatesDirectory))
                print(try render(report, format: format))
            }
        }
    }
}

func render(_ report: RightsOpeningReport, format: OutputFormat) throws -> String {
    switch format {
    case .json:
        return try json(report)
    case .table:
        let period = report.periodLabel.map { "\($0) (\(report.period))" } ?? report.period
        let service = report.service.map { code in report.serviceLabel.map { ", \($0) (\(code))" } ?? ", \(code)" } ?? ""
        let what = "\(report.structure), \(period)\(service)"
        if let at = report.scheduledAt {
            return "\(what): opening scheduled at \(StructureTime(report.timeZone).string(at)) (\(report.timeZone)) "
                + "for \(report.scheduledDossiers) of \(counted(report.eligibleDossiers, "validated dossier"))"
        }
        return """
            \(what): \(counted(report.children, "child", "children")) in \(counted(report.families, "family", "families")) \
            gained reservation rights (\(counted(report.eligibleDossiers, "validated dossier"))); \
            \(counted(report.emails, "planning-open email")) queued
            """
    }
}
