import ArgumentParser
import BackOffice
import CommandLineSupport
import Configuration
import Foundation

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Process the queue: check dossiers, record decisions, open reservation rights.",
        discussion: """
            An idle worker waits for new submissions (LISTEN) and polls for retries and scheduled \
            work. SIGTERM or SIGINT: finish the current batch, commit, exit 0; a second signal \
            exits at once (the open transaction rolls back, nothing is lost).
            """)

    @OptionGroup var options: GlobalOptions
    @OptionGroup var waits: WaitOptions
    @Option(help: "Worker processes to run and supervise (default 1, or worker.processes).") var processes: Int?
    @Option(help: "Dossiers per batch (default 100).") var batchSize: Int?
    @Option(help: "Seconds an idle worker sleeps between polls (default 5).") var pollInterval: Double?
    @Option(help: "Attempts before a failing dossier is parked as failed (default 5).") var maxAttempts: Int?
    @Option(help: "Seconds before the first retry of a failing dossier, doubled each time (default 10).")
    var retryBase: Double?
    @Flag(help: "Process what is due now, then exit.") var once = false

    func run() async throws {
        try await reportingErrors {
            var flags = waits.flags
            if let processes { flags["worker.processes"] = .init(.int(processes), isSecret: false) }
            if let batchSize { flags["worker.batchSize"] = .init(.int(batchSize), isSecret: false) }
            if let pollInterval { flags["worker.pollIntervalSeconds"] = .init(.double(pollInterval), isSecret: false) }
            if let maxAttempts { flags["worker.maxAttempts"] = .init(.int(maxAttempts), isSecret: false) }
            if let retryBase { flags["worker.retryBaseSeconds"] = .init(.double(retryBase), isSecret: false) }
            let settings = try await Settings.load(options, flags: flags)
            let logger = settings.bootstrapLogging()
            Supervisor.bindToSupervisor(logger: logger)
            let shutdown = ShutdownSignal.install(logger: logger)
            if settings.processes > 1 && !once {
                let supervisor = Supervisor(
                    processes: settings.processes, arguments: Self.childArguments(), logger: logger)
                throw ExitCode(supervisor.run(until: shutdown))
            }
            let outbox = try EmailOutbox(directory: settings.templatesDirectory)
            let runner = WorkerRunner(
                conninfo: settings.conninfo, configuration: settings.worker, outbox: outbox, logger: logger)
            if once {
                let summary = try runner.drain(shutdown: shutdown)
                print("processed \(summary.claimed): \(describe(summary))")
            } else {
                runner.run(until: shutdown)
            }
        }
    }

    /// This command's own arguments, for one supervised worker process.
    static func childArguments() -> [String] {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let index = arguments.firstIndex(of: "--processes"), index + 1 < arguments.count {
            arguments.removeSubrange(index...index + 1)
        }
        arguments.removeAll { $0.hasPrefix("--processes=") }
        return arguments + ["--processes", "1"]
    }
}

func describe(_ summary: BatchSummary) -> String {
    let outcomes = summary.outcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
    var parts = outcomes
    if summary.planningOpened > 0 { parts.append("\(summary.planningOpened) planning opened") }
    if summary.retried > 0 { parts.append("\(summary.retried) to retry") }
    if summary.failed > 0 { parts.append("\(summary.failed) failed") }
    return parts.isEmpty ? "nothing due" : parts.joined(separator: ", ")
}
