import Foundation
import Logging
import Mail
import Postgres
import SMTP

/// How the outbox is sent: connections, pace and retries (the `smtp` configuration section).
public struct DeliveryPolicy: Sendable, Equatable {
    /// Connections to the relay at once, each with its own database connection.
    public var connections = 2
    /// At most this many messages a second over all connections; `nil` for no limit.
    public var messagesPerSecond: Double?
    /// The delay after a first deferral; each further one doubles it, up to ``retryMax``.
    public var retryBase: Duration = .seconds(60)
    public var retryMax: Duration = .seconds(3600)
    /// Attempts after which a message still deferred is marked failed.
    public var maxAttempts = 50

    public init() {}

    /// The delay before attempt `attempts + 1`, after `attempts` attempts (1 or more).
    func delay(after attempts: Int) -> Duration {
        let doublings = min(max(attempts - 1, 0), 30)
        let seconds = min(Double(retryBase.milliseconds) / 1000 * pow(2, Double(doublings)), Double(retryMax.milliseconds) / 1000)
        return .milliseconds(Int64(seconds * 1000))
    }
}

/// What a send did.
public struct DeliveryReport: Sendable, Equatable, Codable {
    /// Messages due when the send started.
    public var due = 0
    public var sent = 0
    public var deferred = 0
    public var failed = 0
    /// `host:port`.
    public var relay: String
    public var connections: Int
    /// Why the send stopped before the outbox was empty: the relay unusable (connect, TLS, AUTH).
    public var relayError: String?
    public var durationSeconds = 0.0

    /// Whether some messages were deferred or failed (the send is done, with failures).
    public var hasFailures: Bool { deferred > 0 || failed > 0 }
}

/// Sends the outbox to the mail relay, each message marked as the relay answered it.
///
/// Each connection works in a loop of short transactions: lock the next due message
/// (`FOR UPDATE SKIP LOCKED`), hand it to the relay (MAIL, RCPT, DATA), record the relay's verdict
/// and commit at once. A message is therefore marked sent in the transaction that held it while
/// the relay said 250: a sender killed at any point leaves every message it had not committed due
/// again, and resends at most the one message each connection had in flight, with the same bytes
/// and Message-ID. Two senders (two hosts, or a `batch run --send` beside an `outbox send`) never
/// offer the same message at once.
///
/// - Important: the transaction stays open while the relay answers (at most
///   ``RelaySettings/commandTimeout`` a step): an `idle_in_transaction_session_timeout` on the
///   server must be longer, or the server ends the connection and the message is offered again.
public final class OutboxSender {
    private let conninfo: String
    private let relay: RelaySettings
    private let policy: DeliveryPolicy
    private let logger: Logger
    private let actor: String

    public init(
        conninfo: String, relay: RelaySettings, policy: DeliveryPolicy, logger: Logger, actor: String = OutboxSender.defaultActor
    ) {
        self.conninfo = conninfo
        self.relay = relay
        self.policy = policy
        self.logger = logger
        self.actor = actor
    }

    public static var defaultActor: String {
        "sender:\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Sends what is due (pending, and deferred whose next attempt has come) until none is left,
    /// `limit` messages were offered, the relay became unusable, or `shutdown` was requested.
    ///
    /// - Parameters:
    ///   - structure: only this structure's messages.
    ///   - onProgress: now and then, (messages offered, messages due at the start).
    /// - Returns: the counts; ``DeliveryReport/relayError`` when the relay stopped the send.
    /// - Throws: ``BackOfficeError`` for the database (`.databaseUnreachable`, `.notFound` for an
    ///   unknown structure), or `.badInput` for a credentials file that cannot be used.
    public func send(
        structure: String? = nil, limit: Int? = nil, shutdown: ShutdownSignal? = nil,
        onProgress: (Int, Int) -> Void = { _, _ in }
    ) throws -> DeliveryReport {
        signal(SIGPIPE, SIG_IGN) // a relay closing its socket is an outcome, not a reason to die
        let started = ContinuousClock.now
        let connection = try Database.connect(conninfo, actor: actor)
        defer { connection.close() }
        try requireStructure(structure, on: connection)
        let due = try database("cannot count the outbox") {
            try OutboxStore(connection: connection).dueCount(structure: structure)
        }
        // Fails here, before any thread, on settings or credentials that cannot be used.
        do {
            _ = try SMTPSession(relay)
        } catch {
            throw BackOfficeError(.badInput, error.message, underlying: error)
        }
        let shared = SendState(limit: limit, pace: policy.messagesPerSecond.map { Pace(rate: $0) })
        let lanes = (0..<max(1, policy.connections)).map { _ in
            Lane(
                conninfo: conninfo, actor: actor, relay: relay, policy: policy, structure: structure, shared: shared,
                logger: logger)
        }
        let finished = DispatchGroup()
        for lane in lanes {
            finished.enter()
            Thread {
                lane.run(shutdown: shutdown)
                finished.leave()
            }.start()
        }
        onProgress(0, due)
        // Progress only: the lanes' counts read every 200 ms until they are all done.
        while finished.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            onProgress(shared.snapshot().offered, due)
        }
        let counts = shared.snapshot()
        onProgress(counts.offered, due)
        if let failure = counts.databaseError { throw failure }
        var report = DeliveryReport(due: due, relay: relay.address, connections: lanes.count)
        report.sent = counts.sent
        report.deferred = counts.deferred
        report.failed = counts.failed
        report.relayError = counts.relayError
        report.durationSeconds = (ContinuousClock.now - started).seconds
        logger.info(
            "outbox sent",
            metadata: [
                "sent": "\(report.sent)", "deferred": "\(report.deferred)", "failed": "\(report.failed)",
                "relay_unavailable": "\(report.relayError != nil)", "seconds": "\(Int(report.durationSeconds))",
            ])
        return report
    }
}

/// One connection to the relay and one to the database, sending until nothing is due.
private final class Lane: @unchecked Sendable {
    let conninfo: String
    let actor: String
    let relay: RelaySettings
    let policy: DeliveryPolicy
    let structure: String?
    let shared: SendState
    let logger: Logger
    /// Loads each template set once for the lane's whole run.
    let renderer = EmailRenderer()

    init(
        conninfo: String, actor: String, relay: RelaySettings, policy: DeliveryPolicy, structure: String?, shared: SendState,
        logger: Logger
    ) {
        self.conninfo = conninfo
        self.actor = actor
        self.relay = relay
        self.policy = policy
        self.structure = structure
        self.shared = shared
        self.logger = logger
    }

    func run(shutdown: ShutdownSignal?) {
        let connection: Connection
        let session: SMTPSession
        do {
            connection = try Database.connect(conninfo, actor: actor)
            session = try SMTPSession(relay)
        } catch let error as BackOfficeError {
            shared.stop(databaseError: error)
            return
        } catch {
            shared.stop(relayError: "\(error)")
            return
        }
        defer { connection.close() }
        // Each claim starts after the lane's last one: below it, every email was handled by this
        // lane or locked by another. Starting from the first id each time read, through the
        // outbox index, every email this run had already sent (dead entries until a vacuum): the
        // rate fell from 416 to 102 emails a second between 1,500 and 7,500 emails.
        var cursor: Int64 = 0
        while shutdown?.isRequested != true, shared.takeTurn() {
            do {
                let outcome = try database("cannot send the outbox") {
                    try connection.transaction { connection -> Turn in
                        let store = OutboxStore(connection: connection)
                        guard let message = try store.claimDue(.init(structure: structure, after: cursor)) else {
                            return .nothingDue
                        }
                        cursor = message.id
                        guard let rendered = try render(message, in: store) else { return .unrenderable }
                        let outcome = try session.send(
                            from: message.email.sender, to: message.email.recipient, message: rendered.bytes)
                        try record(outcome, of: message, in: store)
                        return .offered(outcome)
                    }
                }
                switch outcome {
                case .nothingDue:
                    shared.nothingDue()
                    return
                case .unrenderable: shared.countUnrenderable()
                case .offered(let outcome): shared.count(outcome)
                }
            } catch let error as SMTPError {
                // The relay cannot be used: the message is still due (its transaction rolled back).
                shared.stop(relayError: error.message)
                return
            } catch let error as BackOfficeError {
                shared.stop(databaseError: error)
                return
            } catch {
                shared.stop(databaseError: BackOfficeError(.failure, "cannot send the outbox: \(error)", underlying: error))
                return
            }
        }
    }

    /// What one turn of the lane did.
    private enum Turn {
        case nothingDue
        case unrenderable
        case offered(SMTPOutcome)
    }

    /// The claimed message rendered; `nil` when it cannot be, which never changes: it is then
    /// marked failed, with the reason, without being offered.
    private func render(_ message: OutboxStore.Claimed, in store: OutboxStore) throws -> RenderedEmail? {
        do {
            return try renderer.render(message.email, on: store.connection)
        } catch let error as BackOfficeError {
            try store.markFailed(.init(id: message.id, reply: "not offered: \(error.message)", attempts: message.attempts + 1))
            logger.error("email cannot be rendered", metadata: ["email_id": "\(message.id)"])
            return nil
        }
    }

    private func record(_ outcome: SMTPOutcome, of message: OutboxStore.Claimed, in store: OutboxStore) throws {
        let attempts = message.attempts + 1
        switch outcome {
        case .accepted(let reply):
            try store.markSent(.init(id: message.id, reply: reply.description, attempts: attempts))
            logger.debug("email sent", metadata: ["email_id": "\(message.id)", "reply": "\(reply.code)"])
        case .rejected(let reply):
            try store.markFailed(.init(id: message.id, reply: reply.description, attempts: attempts))
            logger.warning(
                "email refused by the relay",
                metadata: ["email_id": "\(message.id)", "reply": "\(reply.code) \(reply.enhancedStatus ?? "")"])
        case .deferred(let reason, let reply):
            if attempts >= policy.maxAttempts {
                try store.markFailed(
                    .init(id: message.id, reply: "gave up after \(attempts) attempts: \(reason)", attempts: attempts))
                logger.warning("email given up", metadata: ["email_id": "\(message.id)", "attempts": "\(attempts)"])
                return
            }
            try store.markDeferred(
                .init(id: message.id, reply: reason, attempts: attempts), retryIn: policy.delay(after: attempts))
            logger.info(
                "email deferred",
                metadata: [
                    "email_id": "\(message.id)", "attempts": "\(attempts)",
                    "reply": "\(reply.map { "\($0.code) \($0.enhancedStatus ?? "")" } ?? "none")",
                ])
        }
    }
}

/// The lanes' shared counts, limit and pace.
private final class SendState: @unchecked Sendable {
    struct Counts {
        var offered = 0
        var sent = 0
        var deferred = 0
        var failed = 0
        var relayError: String?
        var databaseError: BackOfficeError?
    }

    private let lock = NSLock()
    private var counts = Counts()
    private var turns = 0
    private var stopped = false
    private let limit: Int?
    private let pace: Pace?

    init(limit: Int?, pace: Pace?) {
        self.limit = limit
        self.pace = pace
    }

    /// Whether the lane may offer one more message (then waits for its slot under the pace).
    func takeTurn() -> Bool {
        let granted = lock.withLock {
            guard !stopped, turns < (limit ?? Int.max) else { return false }
            turns += 1
            return true
        }
        if granted { pace?.wait() }
        return granted
    }

    /// The turn found nothing due: the outbox is empty for everyone.
    func nothingDue() {
        lock.withLock {
            turns -= 1
            stopped = true
        }
    }

    /// A message that could not be rendered, marked failed without being offered.
    func countUnrenderable() {
        lock.withLock {
            counts.offered += 1
            counts.failed += 1
        }
    }

    func count(_ outcome: SMTPOutcome) {
        lock.withLock {
            counts.offered += 1
            switch outcome {
            case .accepted: counts.sent += 1
            case .deferred: counts.deferred += 1
            case .rejected: counts.failed += 1
            }
        }
    }

    func stop(relayError: String) {
        lock.withLock {
            stopped = true
            if counts.relayError == nil { counts.relayError = relayError }
        }
    }

    func stop(databaseError: BackOfficeError) {
        lock.withLock {
            stopped = true
            if counts.databaseError == nil { counts.databaseError = databaseError }
        }
    }

    func snapshot() -> Counts { lock.withLock { counts } }
}

/// At most `rate` messages a second, evenly spaced, over all lanes.
private final class Pace: @unchecked Sendable {
    private let lock = NSLock()
    private let interval: Duration
    private var next = ContinuousClock.now

    init(rate: Double) {
        interval = .nanoseconds(Int64(1e9 / max(rate, 0.001)))
    }

    func wait() {
        let slot = lock.withLock {
            let slot = max(next, ContinuousClock.now)
            next = slot + interval
            return slot
        }
        let wait = slot - ContinuousClock.now
        if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.milliseconds) / 1000) }
    }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
