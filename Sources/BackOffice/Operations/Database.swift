import Foundation
import Postgres

/// Opens connections the way every part of the back office needs them.
public enum Database {
    /// What to say when no database was named and libpq's defaults (the local socket, a database
    /// named after the user) found none: the four ways to name one, first found wins.
    static let noDatabaseConfigured = """
        No database is configured: give one with --database-url, the ETICKET_DATABASE_URL \
        environment variable, "database.url" in the configuration file (--config, ETICKET_CONFIG, or \
        the installed /etc/eticket/config.json), \
        or libpq's own environment (PGHOST, PGDATABASE, PGUSER…, or PGSERVICE naming a service file entry).
        """

    /// Whether libpq's environment names a server or a database (then libpq's own error says enough).
    static var namedByLibpqEnvironment: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"].contains { environment[$0] != nil }
    }

    /// Connects and names the actor that the audit trail records for state changes.
    ///
    /// - Parameters:
    ///   - keepalive: TCP keepalives and `tcp_user_timeout` for a connection over TCP,
    ///     where the conninfo sets none of its own (see ``Postgres/Connection/conninfo(_:addingKeepalive:environment:)``).
    ///   - limits: how long each statement and commit may wait (see ``WaitLimits``).
    /// - Throws: ``BackOfficeError`` `.databaseUnreachable` with libpq's reason.
    package static func connect(
        _ conninfo: String, actor: String, keepalive: TCPKeepalive? = nil, limits: WaitLimits = .unbounded
    ) throws -> Connection {
        let connection: Connection
        do {
            // A conninfo libpq cannot parse is left as it is, for libpq to say what is wrong with it.
            let conninfo = keepalive.flatMap { try? Connection.conninfo(conninfo, addingKeepalive: $0) } ?? conninfo
            connection = try Connection(conninfo)
        } catch {
            // libpq's reason spans lines ("…failed: …\n\tIs the server running…"): one line is read better.
            let reason = error.message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .joined(separator: " ")
            let advice = certificateAdvice(for: reason).map { ": \($0)" } ?? ""
            let hint = conninfo.isEmpty && !namedByLibpqEnvironment ? " " + noDatabaseConfigured : ""
            throw BackOfficeError(
                .databaseUnreachable, "cannot connect to the database: \(reason)\(advice)\(hint)", underlying: error)
        }
        // JIT compiles a plan in tens to hundreds of milliseconds: a loss for statements like ours,
        // which run in a few milliseconds.
        // random_page_cost 4 (the default) prices an index probe as a random read from a spinning
        // disk, so a batch's hundred lookups looked dearer than reading a whole growing table: the
        // planning-open emails' query read all of reservation_rights for every batch (20 ms a batch
        // at 49,000 rights, 2 ms by index). Our statements touch the rows the batch just wrote and
        // read, in memory or on SSD at worst. 1.1 is the usual setting for SSDs.
        connection.waitLimits = limits
        // client_connection_check_interval: a statement left past its bound is cancelled, but a
        // cancel that arrives before the server started it is lost; the server then notices the
        // closed socket within 5 s, even in a lock wait, instead of holding its place in the
        // lock queue until the lock is free.
        try database("cannot prepare the connection") {
            try SessionStore(connection: connection).prepare(actor: actor)
        }
        return connection
    }
}
