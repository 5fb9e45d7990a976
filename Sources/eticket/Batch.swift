import ArgumentParser
import BackOffice
import CommandLineSupport
import Configuration
import Foundation
import Logging

struct Batch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The scheduled run, for cron or a systemd timer.", subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Process the queue until it is empty or the time is up, then export the outbox.",
            discussion: """
                Scheduled rights openings whose time has come are carried out with the rest of the \
                queue. --send then sends the due emails as `outbox send` does. One run at a time: a run that finds another in progress exits at once with \
                status 75 (EX_TEMPFAIL). Exit status: 0 done, 5 done with failures (dossiers retried \
                or parked, emails deferred or failed), 75 another run in progress, 69 the mail relay \
                unreachable or refusing the session, 4 database unreachable, 1 other failure.
                """)
        @OptionGroup var options: GlobalOptions
        @OptionGroup var waits: WaitOptions
        @Option(help: "Stop starting batches after this long: 90s, 15m, 2h, 1h30m.") var maxDuration = "15m"
        @Option(help: "Export the outbox here after processing.") var exportTo: String?
        @Option(help: "maildir, eml, mbox or jsonl.") var exportFormat: ExportFormat = .maildir
        @Flag(help: "Send the outbox to the mail relay after processing (smtp.* in the configuration).") var send = false
        @Option(help: "Dossiers per batch (default 100, or worker.batchSize).") var batchSize: Int?
        @Option(help: "table or json.") var format: OutputFormat = .table
        @Option(help: "Write the run's metrics here (Prometheus text format, replaced atomically).")
        var metricsFile: String?

        func validate() throws {
            _ = try CommandLineValue.duration(maxDuration, option: "--max-duration")
        }

        func run() async throws {
            try await reportingErrors {
                var flags = waits.flags
                if let batchSize { flags["worker.batchSize"] = .init(.int(batchSize), isSecret: false) }
                let settings = try await Settings.load(options, flags: flags)
                let logger = settings.bootstrapLogging()
                let shutdown = ShutdownSignal.install(logger: logger)
                let batch = BatchRun(
                    conninfo: settings.conninfo, configuration: settings.worker,
                    outbox: try EmailOutbox(directory: settings.templatesDirectory), logger: logger)
                let send = try self.send ? settings.requireRelay() : nil
                let progress = BatchProgress(logger: logger)
                let report: BatchRunReport
                do {
                    report = try batch.run(
                        maxDuration: try CommandLineValue.duration(maxDuration, option: "--max-duration"),
                        export: exportTo.map { BatchRun.Export(path: $0, format: exportFormat.value) },
                        send: send.map { BatchRun.Send(relay: $0.relay, policy: $0.policy) },
                        shutdown: shutdown, onProgress: progress.update)
                } catch let error as BackOfficeError where error.code == .busy {
                    printError(error.message)
                    throw ExitCode(ExitStatus.temporaryFailure)
                }
                progress.finish()
                let status =
                    report.delivery?.relayError != nil
                    ? ExitStatus.relayUnavailable : report.hasFailures ? ExitStatus.doneWithFailures : 0
                print(try render(report, format: format))
                if let metricsFile { try BatchMetrics.save(BatchMetrics.render(report, exitStatus: status), to: metricsFile) }
                if let relayError = report.delivery?.relayError { printError(relayError) }
                if status != 0 { throw ExitCode(status) }
            }
        }
    }
}

extension ExitStatus {
    /// The run finished, but some dossiers failed (retried later or parked).
    static let doneWithFailures: Int32 = 5
    /// EX_TEMPFAIL: could not run now (another run holds the lock); try again later.
    static let temporaryFailure: Int32 = 75
}

func render(_ report: BatchRunReport, format: OutputFormat) throws -> String {
    switch format {
    case .json:
        return try json(report)
    case .table:
        var table = Table(headers: ["WHAT", "COUNT"])
        var rows: [[String]] = ["validated", "awaiting_review", "returned", "rejected"].map {
            [$0, String(report.outcomes[$0, default: 0])]
        }
        rows.append(["planning opened", String(report.planningOpened)])
        rows.append(["retried", String(report.retried)])
        rows.append(["failed", String(report.failed)])
        rows.append(["emails written", String(report.emails.values.reduce(0, +))])
        rows.append(["emails exported", String(report.emailsExported)])
        if let delivery = report.delivery {
            rows.append(["emails sent", String(delivery.sent)])
            rows.append(["emails deferred", String(delivery.deferred)])
            rows.append(["emails failed", String(delivery.failed)])
        }
        rows.append(["still due", String(report.remaining)])
        table.rows = rows
        let stop =
            switch report.stoppedBy {
            case .empty: "queue empty"
            case .deadline: "time is up"
            case .shutdown: "stopped by a signal"
            }
        return table.render()
            + "\nprocessed \(report.processed) in \(counted(report.batches, "batch", "batches")), \(String(format: "%.1f", report.durationSeconds))s (\(stop))"
    }
}

/// The run's progress: on a terminal a line rewritten in place (done/total, rate, ETA) on stderr;
/// otherwise a log line every few seconds.
final class BatchProgress {
    private let logger: Logger
    private let started = Date()
    private let interactive = isatty(STDERR_FILENO) == 1
    private var lastLog = Date.distantPast

    init(logger: Logger) { self.logger = logger }

    func update(_ done: Int, _ total: Int) {
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? "\(Int(Double(max(total - done, 0)) / rate))s" : "?"
        if interactive {
            FileHandle.standardError.write(Data("\rprocessed \(done)/\(total) (\(Int(rate))/s, ETA \(eta))   ".utf8))
        } else if Date().timeIntervalSince(lastLog) >= 5 {
            lastLog = Date()
            logger.info(
                "batch progress", metadata: ["done": "\(done)", "total": "\(total)", "rate": "\(Int(rate))", "eta": "\(eta)"])
        }
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
