import Foundation
import Logging
import Postgres

/// Runs a ``Worker`` against a database: connects, listens for new submissions, processes what is
/// due, sleeps when idle, and reconnects when the connection is lost or a wait runs past its
/// bound (see ``Reconnection``).
public final class WorkerRunner {
    private let worker: Worker
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let reconnection: Reconnection
    private var connection: Connection?
    /// Whether a connection was made once: from then on, ``drain(shutdown:)`` survives losses.
    private var connectedOnce = false

    /// - Parameters:
    ///   - conninfo: the database, the libpq way (URI or key=value; empty for the PG* environment).
    ///   - outbox: where the family's emails are rendered; `nil` records decisions only.
    public init(conninfo: String, configuration: WorkerConfiguration, outbox: EmailOutbox?, logger: Logger) {
        self.configuration = configuration
        self.worker = Worker(configuration: configuration, notifier: outbox, logger: logger)
        self.logger = logger
        self.reconnection = Reconnection(
            conninfo: conninfo, actor: configuration.identity, keepalive: .worker, limits: configuration.waitLimits,
            logger: logger)
    }

    /// The most connection losses in a row that ``drain(shutdown:)`` survives before it gives up.
    static let drainAttempts = 10

    /// Processes batches until nothing is due, then returns what was done (`eticket worker --once`).
    ///
    /// A connection lost (or left after a wait past its bound) once connected is survived like in
    /// ``run(until:)``; the first connection failing is not.
    /// - Throws: ``BackOfficeError`` `.databaseUnreachable` when the database cannot be reached.
    public func drain(shutdown: ShutdownSignal? = nil) throws -> BatchSummary {
        var total = BatchSummary()
        var losses = 0
        while shutdown?.isRequested != true {
            do {
                guard let summary = try withConnection({ try worker.processBatch(on: $0) }) else { break }
                total.add(summary)
                losses = 0
                reconnection.succeeded()
            } catch let error where error.isConnectionLoss && connectedOnce && losses < Self.drainAttempts {
                losses += 1
                leaveConnection(after: error, shutdown: shutdown)
            }
        }
        dropConnection()
        return total
    }

    /// Works until `shutdown` is requested, finishing the batch in hand first.
    ///
    /// Connection losses are survived: the worker waits, reconnects and goes on; the batch it held
    /// rolled back with the connection, and it (or another worker) claims those rows again.
    public func run(until shutdown: ShutdownSignal) {
        var backoff = ReconnectBackoff()
        while !shutdown.isRequested {
            do {
                if try withConnection({ try worker.processBatch(on: $0) }) != nil {
                    reconnection.succeeded()
                    continue
                }
                try waitForWork(shutdown: shutdown)
                reconnection.succeeded()
                backoff.reset()
            } catch let error where error.isConnectionLoss {
                leaveConnection(after: error, shutdown: shutdown)
            } catch {
                let pause = backoff.next()
                logger.error(
                    "worker error, retrying",
                    metadata: ["error": "\(error.logDescription)", "retry_in_ms": "\(Int(pause.seconds * 1000))"])
                sleep(pause, unless: shutdown)
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

    /// Runs `body` on the connection, connecting first when there is none. A connection error
    /// keeps the connection (closed or not) for ``leaveConnection(after:shutdown:)`` to name.
    private func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try connected()
        do {
            return try body(connection)
        } catch let error as PostgresError where error.isConnectionError {
            throw BackOfficeError(error, doing: "lost the database connection")
        }
    }

    private func connected() throws -> Connection {
        if let connection, connection.isOpen { return connection }
        let connection = try reconnection.connect()
        // The same statements every batch: parsed, analysed and planned once per connection (issue 17).
        connection.preparesStatements = true
        try database("cannot set up the session") { try SessionStore(connection: connection).planPreparedStatementsOnce() }
        try database("cannot listen for new submissions") { try connection.listen("dossier_queue") }
        self.connection = connection
        connectedOnce = true
        logger.info("worker connected", metadata: ["backend_pid": "\(connection.backendPID)", "server": "\(connection.server)"])
        return connection
    }

    private func leaveConnection(after error: any Error, shutdown: ShutdownSignal?) {
        reconnection.leave(connection, after: error, what: "worker", shutdown: shutdown)
        connection = nil
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
