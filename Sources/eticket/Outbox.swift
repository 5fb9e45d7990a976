import ArgumentParser
import BackOffice
import CommandLineSupport
import Foundation

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The families' emails waiting for the mail relay.", subcommands: [Send.self, Export.self, List.self, Show.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write pending messages as mail files and mark them exported.",
            discussion: """
                Exactly once: killed at any moment and run again, every message appears once in the \
                output. maildir: tmp/ then new/; eml: one file per message; mbox: mboxrd; jsonl: one \
                object per message (from, to, subject, text, html, headers, message_id). Files are \
                readable by their owner only.
                """)
        @OptionGroup var options: GlobalOptions
        @OptionGroup var waits: WaitOptions
        @Option(help: "maildir, eml, mbox or jsonl.") var format: ExportFormat
        @Option(help: "The Maildir or directory (maildir, eml) or file (mbox, jsonl).") var to: String
        @Option(help: "Only this structure's messages.") var structure: String?
        @Option(help: "At most this many messages.") var limit: Int?
        @Option(help: "Export again the messages exported since this time (YYYY-MM-DD or RFC 3339), on purpose.")
        var again: String?
        @Option(help: "Messages written and marked per transaction.") var batchSize = OutboxExporter.defaultBatchSize

        func validate() throws {
            if let again { _ = try CommandLineValue.dateOrTimestamp(again, option: "--again") }
            if let limit, limit < 1 { throw ValidationError("--limit \(limit): expected 1 or more messages") }
            if batchSize < 1 { throw ValidationError("--batch-size \(batchSize): expected 1 or more messages") }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options, flags: waits.flags)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let since = try again.map { try CommandLineValue.dateOrTimestamp($0, option: "--again") }
                let progress = Progress(label: "exported")
                let report = try administration.exportOutbox(
                    to: to, format: format.value,
                    selection: .init(structure: structure, limit: limit, againSince: since), batchSize: batchSize,
                    limits: settings.worker.waitLimits, onProgress: progress.update)
                progress.finish()
                print("\(counted(report.exported, "message")) exported to \(report.path) (\(report.format.rawValue))")
                if !report.unrenderable.isEmpty {
                    printError(
                        "\(counted(report.unrenderable.count, "message")) cannot be rendered, left pending: "
                            + report.unrenderable.prefix(10).map(String.init).joined(separator: ", ")
                            + (report.unrenderable.count > 10 ? "…" : "") + " (the log says why; `outbox show ID` too)")
                    throw ExitCode(ExitStatus.doneWithFailures)
                }
            }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the due messages to the mail relay (smtp.* in the configuration).",
            discussion: """
                Due: never offered, or deferred and their next attempt come. Each message is marked \
                as the relay answered, in a transaction committed as soon as the answer arrives: \
                sent (250), deferred (4xx, or the connection lost or silent: offered again later, \
                with a doubling delay), failed (5xx). Killed at any point, a rerun sends again at \
                most the messages that were in flight, with their same Message-ID. The relay's \
                password comes from smtp.credentialsFile, never from the command line. Exit status: \
                0 every due message sent, 5 some deferred or failed, 69 the relay unreachable or \
                refusing the session (TLS, AUTH), 3 bad configuration, 4 database unreachable.
                """)
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this structure's messages.") var structure: String?
        @Option(help: "At most this many messages.") var limit: Int?
        @Option(help: "Connections to the relay at once (default smtp.connections, 2).") var connections: Int?
        @Option(help: "At most this many messages a second (default smtp.messagesPerSecond, no limit).")
        var messagesPerSecond: Double?
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit \(limit): expected 1 or more messages") }
            if let connections, !(1...64).contains(connections) {
                throw ValidationError("--connections \(connections): expected 1 to 64")
            }
            if let messagesPerSecond, !(messagesPerSecond > 0) {
                throw ValidationError("--messages-per-second \(messagesPerSecond): expected a number above 0")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let logger = settings.bootstrapLogging()
                var relay = try settings.requireRelay()
                if let connections { relay.policy.connections = connections }
                if let messagesPerSecond { relay.policy.messagesPerSecond = messagesPerSecond }
                let sender = OutboxSender(conninfo: settings.conninfo, relay: relay.relay, policy: relay.policy, logger: logger)
                let progress = Progress(label: "sent")
                let report = try sender.send(
                    structure: structure, limit: limit, shutdown: ShutdownSignal.install(logger: logger),
                    onProgress: progress.update)
                progress.finish()
                print(format == .json ? try json(report) : summary(report))
                try endSend(report)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the outbox, newest first.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Only this structure's messages.") var structure: String?
        @Flag(help: "Only messages not exported yet.") var pending = false
        @Option(help: "At most this many.") var limit = 100
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit \(limit): expected 1 or more messages") }
        }

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                let entries = try administration.outbox.list(structure: structure, pendingOnly: pending, limit: limit)
                switch format {
                case .json:
                    print(try json(entries))
                case .table:
                    var table = Table(headers: ["ID", "DOSSIER", "KIND", "EXPORTED", "DELIVERY", "SUBJECT"])
                    table.rows = entries.map {
                        [
                            String($0.id), $0.dossier, $0.kind, $0.exportedAt == nil ? "no" : "yes", $0.delivery.rawValue,
                            $0.subject,
                        ]
                    }
                    print(table.render())
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one message exactly as it will be exported.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The outbox id (see outbox list).") var id: Int64

        func run() async throws {
            try await reportingErrors {
                let settings = try await Settings.load(options)
                let administration = try Administration(conninfo: settings.conninfo, logger: settings.bootstrapLogging())
                FileHandle.standardOutput.write(Data(try administration.outbox.message(id: id)))
            }
        }
    }
}

/// `12 messages sent, 1 deferred, 0 failed via relay:587 (2 connections, 0.4s)`.
func summary(_ report: DeliveryReport) -> String {
    "\(counted(report.sent, "message")) sent, \(report.deferred) deferred, \(report.failed) failed via \(report.relay) "
        + "(\(counted(report.connections, "connection")), \(String(format: "%.1f", report.durationSeconds))s)"
}

/// Ends a send the way its report says: the relay's error (69), failures (5), or done.
func endSend(_ report: DeliveryReport) throws {
    if let relayError = report.relayError {
        printError(relayError)
        throw ExitCode(ExitStatus.relayUnavailable)
    }
    if report.hasFailures { throw ExitCode(ExitStatus.doneWithFailures) }
}

enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case maildir, eml, mbox, jsonl
    var value: BackOffice.ExportFormatValue { BackOffice.ExportFormatValue(rawValue: rawValue) ?? .maildir }
}

/// Progress on a terminal (done/total, rate); silent when stderr is not a terminal.
final class Progress {
    private let label: String
    private let started = Date()
    private let interactive = isatty(STDERR_FILENO) == 1

    init(label: String) { self.label = label }

    func update(_ done: Int, _ total: Int) {
        guard interactive else { return }
        let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001)
        FileHandle.standardError.write(Data("\r\(label) \(done)/\(total) (\(Int(rate))/s)   ".utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
