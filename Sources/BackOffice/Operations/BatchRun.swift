import Dossiers
import Foundation
import Logging
import Mail
import Postgres
import SMTP

/// What a scheduled batch run did, for its summary, its exit status and its metrics.
public struct BatchRunReport: Sendable, Equatable, Codable {
    /// Why processing stopped.
    public enum Stop: String, Sendable, Codable {
        /// Nothing was due any more.
        case empty
        /// The maximum duration was reached with work still due.
        case deadline
        /// A signal asked the run to stop.
        case shutdown
    }

    public var stoppedBy: Stop = .empty
    /// Queue rows taken and handled (decided, opened, retried or parked).
    public var processed = 0
    public var batches = 0
    /// Decisions recorded, by outcome (`validated`, `returned`, `awaiting_review`, `rejected`).
    public var outcomes: [String: Int] = [:]
    /// Dossiers whose reservation planning opened (at validation or at its scheduled time).
    public var planningOpened = 0
    /// Dossiers whose processing failed and that will be tried again.
    public var retried = 0
    /// Dossiers parked as failed after their last attempt.
    public var failed = 0
    /// Emails written to the outbox by this run, by kind.
    public var emails: [String: Int] = [:]
    /// Emails exported for the mail relay (0 without an export).
    public var emailsExported = 0
    var exportPath: String?
    /// What `--send` did (`nil` without it).
    public var delivery: DeliveryReport?
    /// Queue rows still due when the run stopped.
    public var remaining = 0
    var startedAt: Date
    public var durationSeconds = 0.0

    public init(startedAt: Date) {
        self.startedAt = startedAt
    }

    /// Whether some dossiers failed (retried or parked): the run is done, with failures.
    public var hasFailures: Bool { retried > 0 || failed > 0 || delivery?.hasFailures == true }
}

/// The scheduled run (`eticket batch run`): process the queue until it is empty or the time is
/// up, scheduled openings included, then export the outbox — one run at a time.
///
/// Overlapping runs are impossible: the run holds a session-level advisory lock
/// (``BatchRun/lockKey``) on its connection for its whole length; a second run fails at once with
/// ``BackOfficeError`` `.busy`.
public final class BatchRun {
    /// The advisory lock key of the batch run (`"eticket"` + 1 in ASCII).
    static let lockKey: Int64 = 0x6574_6963_6b65_7401

    /// Where and how to export the outbox after processing.
    public struct Export: Sendable {
        public var path: String
        public var format: OutboxFormat
        public init(path: String, format: OutboxFormat) {
            self.path = path
            self.format = format
        }
    }

    /// Where and how to send the outbox after processing (and after the export, if any).
    public struct Send: Sendable {
        public var relay: RelaySettings
        public var policy: DeliveryPolicy
        public init(relay: RelaySettings, policy: DeliveryPolicy) {
            self.relay = relay
            self.policy = policy
        }
    }

    private let conninfo: String
    private let configuration: WorkerConfiguration
    private let worker: Worker
    private let logger: Logger

    /// - Parameter outbox: renders the families' emails with each decision and opening.
    public init(conninfo: String, configuration: WorkerConfiguration, outbox: EmailOutbox, logger: Logger) {
        self.conninfo = conninfo
        self.configuration = configuration
        self.worker = Worker(configuration: configuration, notifier: outbox, logger: logger)
        self.logger = logger
    }

    /// Runs once: takes the lock, processes batch by batch while time remains (the deadline is
    /// checked between batches, so a run overshoots by at most one batch), exports, reports.
    ///
    /// - Parameters:
    ///   - maxDuration: processing stops starting new batches after this long.
    ///   - export: the outbox export after processing; `nil` for none.
    ///   - send: the outbox sent to the mail relay after processing (and the export); `nil` for none.
    ///   - shutdown: stops the run after the batch in hand (the export and the send still run).
    ///   - onProgress: after each batch, (rows processed, rows to process), the total growing
    ///     when rows fall due during the run.
    /// - Throws: ``BackOfficeError`` `.busy` when another run holds the lock; `.databaseUnreachable`.
    public func run(
        maxDuration: Duration, export: Export? = nil, send: Send? = nil, shutdown: ShutdownSignal? = nil,
        onProgress: (Int, Int) -> Void = { _, _ in }
    ) throws -> BatchRunReport {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started + maxDuration
        let reconnection = Reconnection(
            conninfo: conninfo, actor: configuration.identity, keepalive: .worker, limits: configuration.waitLimits,
            logger: logger)
        var connection = try reconnection.connect()
        defer { connection.close() }
        var report = BatchRunReport(startedAt: Date())
        try lock(on: connection)
        defer { try? BatchRunStore(connection: connection).unlock(Self.lockKey) }
        logger.info(
            "batch run started", metadata: ["max_seconds": "\(Int(maxDuration.seconds))", "server": "\(connection.server)"])

        /// Runs `body` on the run's connection. A connection lost, or left after a wait past its
        /// bound, is replaced (the server it was on tried last) and the lock taken again on the new
        /// one before `body` runs again: the batch that was in hand rolled back, or committed, and
        /// either way the queue says what is left.
        func onConnection<T>(_ body: (Connection) throws -> T) throws -> T {
            var losses = 0
            while true {
                do {
                    return try body(connection)
                } catch let error where error.isConnectionLoss && losses < 10 && shutdown?.isRequested != true {
                    losses += 1
                    reconnection.leave(connection, after: error, what: "batch run", shutdown: shutdown)
                    connection = try reconnection.connectPatiently(losses: &losses, what: "batch run", shutdown: shutdown)
                    do {
                        try lock(on: connection, patience: .seconds(10))
                    } catch let error as BackOfficeError where error.code == .busy {
                        throw BackOfficeError(
                            .busy, "another batch run took the lock while this one reconnected: this run stops here")
                    }
                    logger.info("batch run reconnected", metadata: ["server": "\(connection.server)"])
                }
            }
        }

        let runStart: Date = try onConnection { connection in
            try database("cannot read the database time") {
                try BatchRunStore(connection: connection).databaseNow() ?? Date()
            }
        }
        var total = try onConnection { try dueCount(on: $0) }
        onProgress(0, total)
        var summary = BatchSummary()
        while true {
            if shutdown?.isRequested == true {
                report.stoppedBy = .shutdown
                break
            }
            if clock.now >= deadline {
                report.stoppedBy = .deadline
                break
            }
            let batch = try onConnection { connection in
                try database("cannot process the queue") { try worker.processBatch(on: connection) }
            }
            guard let batch else { break }
            reconnection.succeeded()
            summary.add(batch)
            report.batches += 1
            total = max(total, summary.claimed + (try onConnection { try dueCount(on: $0) }))
            onProgress(summary.claimed, total)
        }
        report.processed = summary.claimed
        report.planningOpened = summary.planningOpened
        report.retried = summary.retried
        report.failed = summary.failed
        report.outcomes = Dictionary(uniqueKeysWithValues: summary.outcomes.map { ($0.key.rawValue, $0.value) })
        report.remaining = try onConnection { try dueCount(on: $0) }
        if report.stoppedBy == .empty, report.remaining > 0 { report.stoppedBy = .deadline }
        report.emails = try onConnection { connection in
            try database("cannot count the emails") {
                Dictionary(
                    uniqueKeysWithValues: try BatchRunStore(connection: connection).emailsByKind(since: runStart).map {
                        ($0.key.rawValue, $0.value)
                    })
            }
        }
        if let export {
            let exported = try OutboxExporter(connection: connection, logger: logger).export(
                to: export.path, format: export.format, selection: .init(), batchSize: OutboxExporter.defaultBatchSize,
                reconnection: reconnection,
                shutdown: nil, onProgress: { _, _ in })
            report.emailsExported = exported.exported
            report.exportPath = exported.path
        }
        if let send {
            report.delivery = try OutboxSender(
                conninfo: conninfo, relay: send.relay, policy: send.policy, logger: logger
            ).send()
        }
        report.durationSeconds = (clock.now - started).seconds
        logger.info(
            "batch run finished",
            metadata: [
                "processed": "\(report.processed)", "retried": "\(report.retried)", "failed": "\(report.failed)",
                "exported": "\(report.emailsExported)", "stopped_by": "\(report.stoppedBy.rawValue)",
                "seconds": "\(Int(report.durationSeconds))",
            ])
        return report
    }

    /// Takes the run's advisory lock for this session, or says who holds it.
    ///
    /// - Parameter patience: how long to try again while another session holds it: after a
    ///   reconnection, the session this run left may hold it until its server notices it is gone.
    private func lock(on connection: Connection, patience: Duration = .zero) throws {
        let giveUp = ContinuousClock.now + patience
        while true {
            do {
                return try tryLock(on: connection)
            } catch let error as BackOfficeError where error.code == .busy && ContinuousClock.now < giveUp {
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
    }

    private func tryLock(on connection: Connection) throws {
        try database("cannot take the batch run lock") {
            let store = BatchRunStore(connection: connection)
            guard try !store.tryLock(Self.lockKey) else { return }
            let holder = try store.lockHolder(Self.lockKey)
            throw BackOfficeError(
                .busy,
                "another batch run is in progress\(holder.map { " (database backend \($0))" } ?? ""): this run is skipped")
        }
    }

    private func dueCount(on connection: Connection) throws -> Int {
        try database("cannot count the queue") {
            try BatchRunStore(connection: connection).dueCount()
        }
    }
}

extension Duration {
    /// The longest duration an operator may write: ten years, far beyond any run or age asked of
    /// the queue, and far below what overflows.
    static let longestOperatorDuration: Duration = .seconds(3650 * 86_400)

    /// The form ``init(parsing:)`` accepts, for an error message.
    public static let operatorDurationForm = "a duration like 90s, 15m, 2h, 1h30m, 2d or 1w (at most 3650d)"

    /// Parses an operator's duration: `90s`, `15m`, `2h`, `1h30m`, `500ms`, `2d`, `1w`; a bare
    /// whole number is seconds. Each unit (`w`, `d`, `h`, `m`, `s`, `ms`) appears at most once, in
    /// that order, after a whole number of at most 9 digits.
    ///
    /// - Returns: `nil` for anything else, for zero, or beyond ``longestOperatorDuration``.
    public init?(parsing text: String) {
        let units: [(name: String, milliseconds: Int64)] = [
            ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
        ]
        var rest = Substring(text)
        var total: Int64 = 0
        var nextUnit = 0
        if !rest.isEmpty, rest.allSatisfy(\.isASCIIDigit) { rest += "s" }
        while !rest.isEmpty {
            let digits = rest.prefix(while: \.isASCIIDigit)
            guard (1...9).contains(digits.count), let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let name = rest.prefix(while: { !$0.isASCIIDigit })
            guard let index = units.indices.first(where: { $0 >= nextUnit && units[$0].name == name }) else { return nil }
            rest = rest.dropFirst(name.count)
            nextUnit = index + 1
            total += value * units[index].milliseconds // at most 9 digits of weeks: no overflow.
        }
        let duration = Duration.milliseconds(total)
        guard total > 0, duration <= Self.longestOperatorDuration else { return nil }
        self = duration
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
