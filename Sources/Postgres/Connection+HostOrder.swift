extension Connection {
    /// Rewrites a multi-host conninfo so that `server` (`host:port`, as ``server`` reports it) is
    /// tried last.
    ///
    /// libpq tries the hosts of `host=a,b` in order and libpq 15 has no `load_balance_hosts`: a
    /// client that left `a` because it hung would connect to `a` again first, and with
    /// `target_session_attrs=read-write` a zombie primary (its failover keeper dead, PostgreSQL
    /// restarted by hand) accepts it. Rotating the list keeps every host in play, `a` last.
    ///
    /// - Returns: `conninfo` with its `host`, `hostaddr` and `port` lists rotated (as a
    ///   `key=value` string), or `conninfo` unchanged when it names one host, does not name
    ///   `server`, or cannot be parsed.
    public static func conninfo(_ conninfo: String, tryingLast server: String) -> String {
        guard let settings = try? conninfoSettings(conninfo), let hostList = settings["host"] ?? settings["hostaddr"]
        else { return conninfo }
        let hosts = hostList.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let ports = (settings["port"] ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard hosts.count > 1 else { return conninfo }
        let defaultPort = ports.count == 1 ? ports[0] : "5432"
        func port(_ index: Int) -> String {
            let value = ports.count == hosts.count ? ports[index] : defaultPort
            return value.isEmpty ? "5432" : value
        }
        guard let failed = hosts.indices.first(where: { "\(hosts[$0]):\(port($0))" == server }) else { return conninfo }
        let order = Array(hosts.indices[(failed + 1)...]) + Array(hosts.indices[...failed])
        var rotated = settings
        for key in ["host", "hostaddr", "port"] {
            guard let value = settings[key] else { continue }
            let items = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if items.count == hosts.count { rotated[key] = order.map { items[$0] }.joined(separator: ",") }
        }
        var pairs: [String] = []
        for (name, value) in rotated.sorted(by: { $0.key < $1.key }) {
            guard let quoted = try? quoteConninfoValue(value) else { return conninfo }
            pairs.append("\(name)=\(quoted)")
        }
        return pairs.joined(separator: " ")
    }
}
