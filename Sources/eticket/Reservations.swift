import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Reservations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reserve or cancel service days for a child (support staff, tests).",
        discussion: """
            The database's reservation gate decides: a validated dossier, rights for the service \
            and period, a day the service runs, inside the period and not closed. A refusal prints \
            the gate's reason and changes nothing. The child is its id or EXTERNALID/N (see \
            planning show --help).
            """,
        subcommands: [Add.self, Remove.self])

    struct Change: ParsableArguments {
        @Option(help: "The child: a child id, or EXTERNALID/N.") var child: String
        @Option(help: "The service code.") var service: String
        @Option(help: "A day, YYYY-MM-DD (repeatable).") var date: [String] = []

        func validate() throws {
            if date.isEmpty { throw ValidationError("give at least one --date") }
            for day in date { _ = try CommandLineValue.date(day, option: "--date") }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reserve days, all or none.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var change: Change

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let result = try administration.addReservations(child: change.child, service: change.service, dates: change.date)
                print(describe(result, verb: "reserved"))
                if !result.unchanged.isEmpty { print("already reserved: \(result.unchanged.joined(separator: ", "))") }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel reserved days, all or none.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var change: Change

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let result = try administration.removeReservations(
                    child: change.child, service: change.service, dates: change.date)
                print(describe(result, verb: "cancelled"))
            }
        }
    }
}

private func describe(_ result: ReservationChange, verb: String) -> String {
    let days = result.changed.isEmpty ? "no day" : result.changed.joined(separator: ", ")
    return "\(result.serviceLabel) (\(result.service)) \(verb) for \(result.child) (\(result.dossier)): \(days)"
}
