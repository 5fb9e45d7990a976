import Foundation
import Logging
import Postgres

/// Connects, and connects again after a loss, for the long-running parts (worker, batch run,
/// exporter): every wait bounded by ``WaitLimits``, the server that was lost tried last, and a
/// capped, jittered pause between attempts.
///
/// A primary that dies (or hangs: a commit waiting for a standby that is gone) costs at most one
/// bound; the next connection, through a multi-host connection string with
/// `target_session_attrs=read-write`, reaches the node that is primary now.
final class Reconnection {
    /// The connection string, its host list rotated after each loss.
    private(set) var conninfo: String
    let actor: String
    let keepalive: TCPKeepalive?
    let limits: WaitLimits
    let logger: Logger
    private var backoff = ReconnectBackoff()

    init(conninfo: String, actor: String, keepalive: TCPKeepalive? = nil, limits: WaitLimits, logger: Logger) {
        self.conninfo = conninfo
        self.actor = actor
        self.keepalive = keepalive
        self.limits = limits
        self.logger = logger
    }

    /// A new connection, its waits bounded.
    ///
    /// - Throws: ``BackOfficeError`` `.databaseUnreachable`.
    func connect() throws -> Connection {
        try Database.connect(conninfo, actor: actor, keepalive: keepalive, limits: limits)
    }

    /// Connects, trying again after a pause while the failures are connection failures (a
    /// failover in progress: no node accepts writes yet) and fewer than `limit` in all.
    ///
    /// - Parameter losses: the failures so far, counted up here.
    func connectPatiently(
        losses: inout Int, limit: Int = 10, what: String, shutdown: ShutdownSignal? = nil
    ) throws -> Connection {
        while true {
            do {
                return try connect()
            } catch let error where error.isConnectionLoss && losses < limit && shutdown?.isRequested != true {
                losses += 1
                leave(nil, after: error, what: what, shutdown: shutdown)
            }
        }
    }

    /// Says why `connection` is being left, closes it and moves its server to the end of the host
    /// list; then sleeps the backoff's next pause (unless `shutdown` comes first).
    ///
    /// - Parameter what: who leaves (`worker`, `batch run`, `outbox export`), for the log line.
    func leave(_ connection: Connection?, after error: any Error, what: String, shutdown: ShutdownSignal? = nil) {
        let underlying = (error as? BackOfficeError)?.underlying ?? error
        let server = (underlying as? PostgresError)?.server ?? connection?.server ?? ""
        let pause = backoff.next()
        var metadata: Logger.Metadata = [
            "error": "\(error.logDescription)", "server": "\(server)", "retry_in_ms": "\(Int(pause.seconds * 1000))",
        ]
        if let timeout = underlying as? PostgresError, timeout.code == .timedOut {
            metadata["phase"] = "\(timeout.phase?.rawValue ?? "statement")"
            logger.error("\(what): no answer in time, left the server and reconnecting", metadata: metadata)
        } else {
            logger.error("\(what): lost the database, reconnecting", metadata: metadata)
        }
        connection?.close()
        if !server.isEmpty { conninfo = Connection.conninfo(conninfo, tryingLast: server) }
        sleep(pause, unless: shutdown)
    }

    /// A pause between attempts is over: the next one starts from the shortest pause again.
    func succeeded() {
        backoff.reset()
    }

    private func sleep(_ duration: Duration, unless shutdown: ShutdownSignal?) {
        let deadline = ContinuousClock.now + duration
        while shutdown?.isRequested != true, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: min(0.1, (deadline - ContinuousClock.now).seconds))
        }
    }
}

/// Exponential pauses between reconnection attempts, capped, each drawn at random in its upper
/// half so that workers that lost the same server do not all come back at the same instant.
struct ReconnectBackoff {
    var first: Duration = .milliseconds(200)
    var cap: Duration = .seconds(30)
    private var attempt = 0

    mutating func next() -> Duration {
        let ceiling = min(cap, first * (1 << min(attempt, 20)))
        attempt += 1
        let milliseconds = Int(ceiling.seconds * 1000)
        return .milliseconds(milliseconds / 2 + Int.random(in: 0...max(0, milliseconds - milliseconds / 2)))
    }

    mutating func reset() { attempt = 0 }
}
