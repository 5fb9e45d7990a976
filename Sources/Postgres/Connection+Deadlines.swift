internal import CLibPQ
import Foundation
import Glibc

/// How long a connection waits for the server before it gives up.
///
/// libpq's own calls wait for ever: a server whose host died without closing the socket, a lock
/// held elsewhere, or a commit waiting for a synchronous standby that is gone would hang the
/// caller in silence. With a bound, the caller gets a ``PostgresError`` with code `timedOut`
/// instead: the statement is cancelled and the connection closed, and a new connection (through a
/// multi-host connection string) finds the current primary.
public struct WaitLimits: Sendable, Equatable {
    /// The longest wait for one statement's answer (or a script's); `nil` waits for ever.
    public var statement: Duration?
    /// The longest wait for `COMMIT`, which may wait for synchronous replication; `nil` waits for ever.
    public var commit: Duration?

    public init(statement: Duration? = nil, commit: Duration? = nil) {
        self.statement = statement
        self.commit = commit
    }

    /// No bound: libpq's behaviour, for tools and tests that want it.
    public static let unbounded = WaitLimits()
}

extension Connection {
    /// The server this connection talks to, as `host:port` (the host of a multi-host connection
    /// string that was chosen; a unix socket's directory for a local one); empty once closed.
    public var server: String {
        guard let handle else { return "" }
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        let port = PQport(handle).map { String(cString: $0) } ?? ""
        return "\(host):\(port)"
    }

    /// Sends `sql` (with the parameters already on the wire) and waits for its result within the
    /// bound that fits it: ``WaitLimits/commit`` for `COMMIT`, ``WaitLimits/statement`` for the rest
    /// (plus the commit bound outside a transaction, where the statement commits on its own).
    ///
    /// - Returns: The result, as `PQexec` returns it: the last one, or the first error.
    /// - Throws: ``PostgresError`` `timedOut` after the bound (cancel sent, connection closed).
    func sendAndWait(_ sql: String, send: (OpaquePointer) -> Int32) throws(PostgresError) -> OpaquePointer? {
        let connection = try openHandle(for: sql)
        let limit = waitLimit(for: sql, on: connection)
        guard send(connection) == 1 else { return nil }
        let deadline = limit.map { ContinuousClock.now + $0 }
        var kept: OpaquePointer?
        while true {
            while PQisBusy(connection) == 1 {
                let readable: Bool
                do {
                    readable = try waitReadable(connection, until: deadline, sql: sql, limit: limit)
                } catch {
                    kept.map { PQclear($0) }
                    throw error
                }
                guard readable else {
                    kept.map { PQclear($0) }
                    return nil
                }
            }
            guard let next = PQgetResult(connection) else { break }
            let status = PQresultStatus(next)
            if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
                kept.map { PQclear($0) }
                return next
            }
            // As PQexec: an error result wins over what follows; otherwise the last result is kept.
            if let current = kept, PQresultStatus(current) == PGRES_FATAL_ERROR {
                PQclear(next)
            } else {
                kept.map { PQclear($0) }
                kept = next
            }
        }
        return kept
    }

    /// Whether `sql` is a bare COMMIT, whatever its case and surrounding white space. Asked before
    /// every statement: it looks at the UTF-8 bytes, where Foundation's trimming copied the
    /// whole text (a tenth of a worker's CPU for its statements of several kilobytes).
    package static func isCommit(_ sql: String) -> Bool {
        let isSpace = { (byte: UInt8) in byte == 0x20 || (0x09...0x0D).contains(byte) }
        let bytes = sql.utf8
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return false }
        let word = bytes[first...last]
        return word.count == 6 && word.elementsEqual("commit".utf8) { $0 | 0x20 == $1 }
    }

    private func waitLimit(for sql: String, on connection: OpaquePointer) -> Duration? {
        if Self.isCommit(sql) { return waitLimits.commit }
        guard let statement = waitLimits.statement else { return nil }
        if PQtransactionStatus(connection) == PQTRANS_IDLE, let commit = waitLimits.commit { return statement + commit }
        return statement
    }

    /// Waits until the socket has data and reads it; returns `false` when the connection broke.
    private func waitReadable(
        _ connection: OpaquePointer, until deadline: ContinuousClock.Instant?, sql: String, limit: Duration?
    ) throws(PostgresError) -> Bool {
        let socket = PQsocket(connection)
        guard socket >= 0 else { return false }
        var milliseconds: Int32 = -1
        if let deadline {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero, let limit { throw timedOut(sql: sql, after: limit) }
            milliseconds = Int32(clamping: remaining.roundedUpMilliseconds)
        }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        if ready < 0 && errno != EINTR {
            throw PostgresError(code: .client, message: "poll failed: \(String(cString: strerror(errno)))", query: sql)
        }
        return PQconsumeInput(connection) == 1
    }

    /// Cancels the statement in flight, closes the connection and describes what happened.
    ///
    /// The cancel request opens a connection of its own to the server, which a dead host would
    /// hold up: it is sent from a thread nobody waits for.
    private func timedOut(sql: String, after limit: Duration) -> PostgresError {
        let server = self.server
        if let handle, let cancel = PQgetCancel(handle) {
            let request = CancelRequest(cancel)
            Thread.detachNewThread { request.send() }
        }
        close()
        let isCommit = Self.isCommit(sql)
        let phase = isCommit ? "COMMIT" : "a statement"
        let why =
            isCommit
            ? " (a commit that waits this long usually waits for a synchronous standby that is gone; PostgreSQL keeps its effects on that server)"
            : ""
        return PostgresError(
            code: .timedOut,
            message: "\(server) did not answer \(phase) within \(limit.formattedSeconds) s\(why): cancel sent, connection closed",
            detail: server, query: isCommit ? "COMMIT" : sql)
    }
}

/// A libpq cancel handle on its way to the server, from another thread.
private final class CancelRequest: @unchecked Sendable {
    /// Owned here: used once by ``send()``, then freed.
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }

    func send() {
        var errorBuffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(handle, &errorBuffer, Int32(errorBuffer.count))
        PQfreeCancel(handle)
    }
}

extension Duration {
    var roundedUpMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64(Int32.max) / 1000 else { return Int64(Int32.max) }
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }

    /// `2`, `0.5`, `30`: seconds as an operator writes them.
    var formattedSeconds: String {
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)" : String(format: "%.3g", Double(milliseconds) / 1000)
    }
}
