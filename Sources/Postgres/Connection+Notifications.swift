internal import CLibPQ
import Glibc

/// A message sent with `NOTIFY` (or `pg_notify`) on a channel this connection listens to.
public struct Notification: Sendable, Equatable {
    public var channel: String
    public var payload: String
    /// The server process that sent it; equal to ``Connection/backendPID`` for our own.
    public var backendPID: Int32

    public init(channel: String, payload: String, backendPID: Int32) {
        self.channel = channel
        self.payload = payload
        self.backendPID = backendPID
    }
}

/// ``Notification`` under a name that does not clash with `Foundation.Notification` in files
/// importing both modules.
public typealias PostgresNotification = Notification

extension Connection {
    /// Starts listening on a channel. Notifications arrive through ``waitForNotification(timeout:)``.
    ///
    /// - Parameter channel: The channel name, case-sensitive (it is quoted as an identifier).
    /// - Throws: ``PostgresError`` when the server refuses.
    public func listen(_ channel: String) throws(PostgresError) {
        try execute(script: "LISTEN \(try Self.quoteIdentifier(channel))")
    }

    /// Sends a notification. Inside a transaction it is delivered at commit, and not at all on
    /// rollback.
    /// - Throws: ``PostgresError`` when the server refuses (a payload over 8000 bytes, say).
    public func notify(_ channel: String, payload: String = "") throws(PostgresError) {
        try query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Returns the next notification, waiting for one up to `timeout`.
    ///
    /// Sleeps in `poll(2)` on the connection's socket, so waiting costs no CPU.
    /// - Parameter timeout: How long to wait; zero only collects what already arrived.
    /// - Returns: A notification that was pending or arrived in time, or `nil` after `timeout`.
    /// - Throws: ``PostgresError`` with code `connectionLost` when the connection dropped.
    public func waitForNotification(timeout: Duration) throws(PostgresError) -> Notification? {
        let connection = try openHandle(for: nil)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            guard PQconsumeInput(connection) == 1 else {
                throw lostWhileWaiting(connection)
            }
            if let pending = PQnotifies(connection) {
                defer { PQfreemem(pending) }
                let notification = pending.pointee
                return Notification(
                    channel: notification.relname.map { String(cString: $0) } ?? "",
                    payload: notification.extra.map { String(cString: $0) } ?? "",
                    backendPID: notification.be_pid)
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return nil }
            let socket = PQsocket(connection)
            guard socket >= 0 else { throw lostWhileWaiting(connection) }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = remaining.components
            // Rounded up, so that a wait never ends just before the deadline and spins.
            let milliseconds =
                seconds >= Int64(Int32.max) / 1000
                ? Int64(Int32.max)
                : seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            let ready = poll(&descriptor, 1, Int32(milliseconds))
            if ready < 0 && errno != EINTR {
                throw PostgresError(code: .client, message: "poll failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func lostWhileWaiting(_ connection: OpaquePointer) -> PostgresError {
        let message = Self.trimmed(PQerrorMessage(connection)) ?? "the connection was lost"
        return PostgresError(code: .connectionLost, message: message)
    }
}

/// Quotes an SQL identifier: `"` around it, inner `"` doubled.
///
/// Works on UTF-8 bytes, never on `Character`s: a grapheme cluster can hold a `"` (U+0600 and the
/// other prepended marks join the character that follows them), and a comparison by grapheme would
/// let that quote end the identifier.
func quotedIdentifier(_ name: String) throws(PostgresError) -> String {
    var quoted: [UInt8] = [UInt8(ascii: "\"")]
    for byte in name.utf8 {
        guard byte != 0 else {
            throw PostgresError(code: .client, message: "an SQL identifier cannot hold a NUL character")
        }
        quoted.append(byte)
        if byte == UInt8(ascii: "\"") { quoted.append(byte) }
    }
    quoted.append(UInt8(ascii: "\""))
    return String(decoding: quoted, as: UTF8.self)
}
