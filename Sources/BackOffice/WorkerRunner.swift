import Foundation
import Logging
import Postgres

/// Runs a ``Worker`` against a database: connects, listens for new submissions, processes what is
/// due, sleeps when idle, and reconnects when the connection is lost.
public final class WorkerRunner {
    private let conninfo: String
    private let worker: Worker
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private var connection: Connection?

    /// - Parameters:
    ///   - conninfo: the database, the libpq way (URI or key=value; empty for the PG* environment).
    ///   - outbox: where the family's emails are rendered; `nil` records decisions only.
    public init(conninfo: String, configuration: WorkerConfiguration, outbox: EmailOutbox?, logger: Logger) {
        self.conninfo = conninfo
        self.configuration = configuration
        self.worker = Worker(configuration: configuration, notifier: outbox, logger: logger)
        self.logger = logger
    }

    /// Processes batches until nothing is due, then returns what was done (`eticket worker --once`).
    ///
    /// - Throws: ``BackOfficeError`` `.databaseUnreachable` when the database cannot be reached.
    public func drain(shutdown: ShutdownSignal? = nil) throws -> BatchSummary {
        var total = BatchSummary()
        while shutdown?.isRequested != true {
            guard let summary = try withConnection({ try worker.processBatch(on: $0) }) else { break }
            total.add(summary)
        }
        return total
    }

    /// Works until `shutdown` is requested, finishing the batch in hand first.
    ///
    /// Connection losses are survived: the worker waits, reconnects and goes on; the batch it held
    /// rolled back with the connection, and it (or another worker) claims those rows again.
    public func run(until shutdown: ShutdownSignal) {
        var backoff = Duration.milliseconds(200)
        while !shutdown.isRequested {
            do {
                if try withConnection({ try worker.processBatch(on: $0) }) != nil { continue }
                try waitForWork(shutdown: shutdown)
                backoff = .milliseconds(200)
            } catch {
                logger.error("worker error, retrying", metadata: ["error": "\(error.logDescription)", "retry_in_ms": "\(Int(backoff.seconds * 1000))"])
                if error.isConnectionLoss { dropConnection() }
                sleep(backoff, unless: shutdown)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
        dropConnection()
        logger.info("worker stopped")
    }

    /// Sleeps until a NOTIFY, the next scheduled row, or the poll interval, whichever comes first;
    /// in short slices so that a shutdown request is seen promptly.
    private func waitForWork(shutdown: ShutdownSignal) throws {
        try withConnection { connection in
            var wait = configuration.pollInterval
            if let seconds = try QueueStore(connection: connection).secondsUntilNextRow() {
                wait = min(wait, .milliseconds(max(0, Int(min(seconds, 86_400) * 1000))))
            }
            let deadline = ContinuousClock.now + wait
            while !shutdown.isRequested, ContinuousClock.now < deadline {
                let slice = min(deadline - ContinuousClock.now, .milliseconds(500))
                if try connection.waitForNotification(timeout: slice) != nil { return }
            }
        }
    }

    private func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try connected()
        do {
            return try body(connection)
        } catch let error as PostgresError where error.isConnectionError {
            dropConnection()
            throw BackOfficeError(error, doing: "lost the database connection")
        }
    }

    private func connected() throws -> Connection {
        if let connection, connection.isOpen { return connection }
        let connection = try Database.connect(conninfo, actor: configuration.identity, keepalive: .worker)
        try database("cannot listen for new submissions") { try connection.listen("dossier_queue") }
        self.connection = connection
        logger.info("worker connected", metadata: ["backend_pid": "\(connection.backendPID)"])
        return connection
    }

    private func dropConnection() {
        connection?.close()
        connection = nil
    }

    private func sleep(_ duration: Duration, unless shutdown: ShutdownSignal) {
        let deadline = ContinuousClock.now + duration
        while !shutdown.isRequested, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: min(0.1, (deadline - ContinuousClock.now).seconds))
        }
    }
}
