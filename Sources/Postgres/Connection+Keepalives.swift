import Foundation

/// How soon a TCP connection to PostgreSQL gives up on a peer that stopped answering.
///
/// Without these, Linux sends no keepalive at all, and unacknowledged data is retransmitted for
/// about 15 minutes (`tcp_retries2`): a client waiting for a reply across a cut link waits forever,
/// one sending into it waits a quarter of an hour. The values are libpq's connection settings
/// (`keepalives`, `keepalives_idle`, `keepalives_interval`, `keepalives_count`,
/// `tcp_user_timeout`); libpq ignores them on unix sockets.
public struct TCPKeepalive: Sendable, Equatable {
    /// Seconds without traffic before the first probe (`keepalives_idle`).
    public var idleSeconds: Int
    /// Seconds between unanswered probes (`keepalives_interval`).
    public var intervalSeconds: Int
    /// Unanswered probes before the connection is dropped (`keepalives_count`).
    public var count: Int
    /// Milliseconds that sent data may stay unacknowledged before the connection is dropped
    /// (`tcp_user_timeout`). On Linux it also ends keepalive probing once that long has passed
    /// since the peer was last heard, whatever ``count`` says.
    public var userTimeoutMilliseconds: Int

    public init(idleSeconds: Int, intervalSeconds: Int, count: Int, userTimeoutMilliseconds: Int) {
        self.idleSeconds = idleSeconds
        self.intervalSeconds = intervalSeconds
        self.count = count
        self.userTimeoutMilliseconds = userTimeoutMilliseconds
    }

    /// For worker connections: a dead link is noticed within about 30 s, idle or sending.
    ///
    /// A worker's connection is never idle for long (it polls every few seconds), so probes cost
    /// nothing; they matter when it waits for a reply that a cut link will never bring. 10 s idle,
    /// then 4 probes 5 s apart, reach 30 s, which is also the `tcp_user_timeout`, so both ways of
    /// noticing agree. Not shorter: a network blip shorter than that (a router failing over, a
    /// virtual machine migrating) should not cost a rolled-back batch. Not longer: a worker stuck
    /// on a dead connection does no work. Its claimed rows are freed by the *server* noticing the
    /// dead client (see docs/operations.md, "PostgreSQL over the network"), not by this.
    public static let worker = TCPKeepalive(idleSeconds: 10, intervalSeconds: 5, count: 4, userTimeoutMilliseconds: 30_000)

    /// The libpq settings, by keyword.
    public var settings: [String: String] {
        [
            "keepalives": "1", "keepalives_idle": "\(idleSeconds)", "keepalives_interval": "\(intervalSeconds)",
            "keepalives_count": "\(count)", "tcp_user_timeout": "\(userTimeoutMilliseconds)",
        ]
    }
}

extension Connection {
    /// Adds `keepalive`'s settings to a conninfo that reaches its server over TCP, each one only
    /// where the conninfo does not set it itself.
    ///
    /// A conninfo that connects through a unix socket only, or that names a `service` (whose file
    /// is the operator's whole configuration of the connection), comes back unchanged.
    ///
    /// - Parameters:
    ///   - conninfo: A libpq URI or `key=value` string; empty means the libpq environment.
    ///   - keepalive: The settings to add.
    ///   - environment: Where `PGHOST`, `PGHOSTADDR` and `PGSERVICE` are read, when the conninfo
    ///     leaves them to the environment.
    /// - Returns: `conninfo` itself, or a `key=value` string with its settings and the added ones.
    /// - Throws: ``PostgresError`` with code `client` when libpq cannot parse `conninfo`.
    public static func conninfo(
        _ conninfo: String, addingKeepalive keepalive: TCPKeepalive,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PostgresError) -> String {
        let settings = try conninfoSettings(conninfo)
        guard settings["service"] == nil, environment["PGSERVICE"] == nil,
            reachesServerOverTCP(settings, environment: environment)
        else { return conninfo }
        let added = keepalive.settings.filter { settings[$0.key] == nil }
        guard !added.isEmpty else { return conninfo }
        var pairs: [String] = []
        for (name, value) in settings.merging(added, uniquingKeysWith: { own, _ in own }).sorted(by: { $0.key < $1.key }) {
            pairs.append("\(name)=\(try quoteConninfoValue(value))")
        }
        return pairs.joined(separator: " ")
    }

    /// Whether libpq would try at least one of the conninfo's hosts over TCP, as it decides:
    /// any `hostaddr` is TCP; a host that is empty (libpq's default socket directory), an absolute
    /// path or `@name` (an abstract socket) is a unix socket; any other host name is TCP.
    static func reachesServerOverTCP(_ settings: [String: String], environment: [String: String]) -> Bool {
        let hostaddr = settings["hostaddr"] ?? environment["PGHOSTADDR"] ?? ""
        if hostaddr.split(separator: ",").contains(where: { !$0.isEmpty }) { return true }
        let hosts = (settings["host"] ?? environment["PGHOST"] ?? "").split(separator: ",", omittingEmptySubsequences: false)
        return hosts.contains { host in !host.isEmpty && !host.hasPrefix("/") && !host.hasPrefix("@") }
    }
}
