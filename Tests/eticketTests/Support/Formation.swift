import Foundation
import Postgres
import Testing

/// A pg_auto_failover formation on this machine, for the failover tests: a monitor and two
/// PostgreSQL nodes with synchronous replication, on free TCP ports of 127.0.0.1, all in a
/// temporary directory that ``stop()`` removes.
///
/// Each `pg_autoctl run` (the node's keeper, which starts and watches its PostgreSQL) runs in a
/// process group of its own, so that ``kill(_:)`` takes a node's whole "host" down at once with
/// SIGKILL: keeper, postmaster and backends. As root, every program runs as `postgres`.
/// The monitor's health checks are tuned so that a failover takes seconds, not a minute.
final class Formation: @unchecked Sendable {
    struct Node {
        var name: String
        var port: Int
        var directory: String
        var server: String { "127.0.0.1:\(port)" }
    }

    let directory: String
    let monitorPort: Int
    let nodes: [Node]
    /// The process group (its leader's pid) of each running keeper or hand-started server, by name.
    private var groups: [String: GroupLeader] = [:]

    static let binaries = "/usr/lib/postgresql/15/bin"

    /// Creates and starts the monitor and two nodes (`node1` primary, `node2` its synchronous
    /// standby), and waits until the monitor reports them so, with database `eticket` on both.
    init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/pg_autoctl") else {
            throw FormationError("pg_autoctl is not installed: apt-get install postgresql-15-auto-failover (.ci/run does)")
        }
        var template = Array("/tmp/etpaf-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw FormationError("mkdtemp failed") }
        directory = String(cString: created)
        let ports = try Self.freePorts(3)
        monitorPort = ports[0]
        nodes = [
            Node(name: "node1", port: ports[1], directory: directory + "/node1"),
            Node(name: "node2", port: ports[2], directory: directory + "/node2"),
        ]
        if geteuid() == 0, let user = getpwnam("postgres") {
            chown(directory, user.pointee.pw_uid, user.pointee.pw_gid)
        }
        do {
            try start()
        } catch {
            stop()
            throw error
        }
    }

    deinit { stop() }

    /// The formation's connection string, as applications use it: both nodes, the primary chosen
    /// by `target_session_attrs=read-write`.
    var url: String {
        "postgresql://postgres@127.0.0.1:\(nodes[0].port),127.0.0.1:\(nodes[1].port)/eticket?target_session_attrs=read-write&connect_timeout=5"
    }

    /// One node, whatever its role (for reading a standby, or the data a node holds).
    func url(_ node: Node) -> String {
        "postgresql://postgres@127.0.0.1:\(node.port)/eticket?connect_timeout=5"
    }

    private var monitorURL: String { "postgresql://postgres@127.0.0.1:\(monitorPort)/pg_auto_failover?connect_timeout=5" }
    private var monitorNodeURL: String {
        "postgres://autoctl_node@127.0.0.1:\(monitorPort)/pg_auto_failover?sslmode=disable"
    }

    private func start() throws {
        try run(
            [
                "create", "monitor", "--pgdata", directory + "/monitor", "--pgport", "\(monitorPort)",
                "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl",
            ], log: "monitor-create")
        try run(
            ["config", "set", "--pgdata", directory + "/monitor", "postgresql.listen_addresses", "127.0.0.1"],
            log: "monitor-config")
        try startKeeper("monitor", pgdata: directory + "/monitor")
        try waitFor("the monitor to accept connections", timeout: 60) { (try? self.query(self.monitorURL, "SELECT 1")) != nil }
        // Seconds, not a minute: a check a second, a node unhealthy after 2 s, the old primary
        // given 3 s to notice it lost the monitor before the standby is promoted.
        for (name, value) in [
            ("health_check_period", "1000"), ("health_check_timeout", "1000"), ("health_check_max_retries", "1"),
            ("health_check_retry_delay", "500"), ("node_considered_unhealthy_timeout", "2000"),
            ("primary_demote_timeout", "3000"), ("startup_grace_period", "2000"),
        ] {
            _ = try query(monitorURL, "ALTER SYSTEM SET pgautofailover.\(name) = \(value)")
        }
        _ = try query(monitorURL, "SELECT pg_reload_conf()")
        for node in nodes {
            try run(
                [
                    "create", "postgres", "--pgdata", node.directory, "--pgport", "\(node.port)", "--listen", "127.0.0.1",
                    "--hostname", "127.0.0.1", "--name", node.name, "--monitor", monitorNodeURL, "--auth", "trust",
                    "--no-ssl", "--dbname", "eticket",
                ], log: "\(node.name)-create")
            // The keeper's own timeouts, below the monitor's demote timeout (pg_autoctl.cfg).
            for (key, value) in [("timeout.network_partition_timeout", "2"), ("timeout.prepare_promotion_walreceiver", "1")] {
                try run(["config", "set", "--pgdata", node.directory, key, value], log: "\(node.name)-config")
            }
            try startKeeper(node.name, pgdata: node.directory)
            try waitForState([node.name: node.name == "node1" ? ["single", "primary"] : ["secondary"]], timeout: 120)
        }
        try waitForState(["node1": ["primary"], "node2": ["secondary"]], timeout: 120)
    }

    /// Kills a node's whole host: its keeper's process group (keeper, postmaster, backends), SIGKILL.
    func kill(_ node: Node) {
        groups.removeValue(forKey: node.name)?.killGroup()
    }

    /// Starts a node's keeper again (it rejoins the formation as the monitor says).
    func restartKeeper(_ node: Node) throws {
        try startKeeper(node.name, pgdata: node.directory)
    }

    /// Starts a node's PostgreSQL by hand, without its keeper, as a primary whose commits wait for
    /// a synchronous standby: the zombie primary of a partial failure.
    func startZombie(_ node: Node, synchronousStandbyNames: String) throws {
        groups[node.name] = try GroupLeader(
            asPostgres([
                "\(Self.binaries)/postgres", "-D", node.directory, "-p", "\(node.port)", "-h", "127.0.0.1",
                "-c", "synchronous_standby_names=\(synchronousStandbyNames)",
            ]),
            environment: environment, log: "\(directory)/\(node.name)-zombie.log")
        try waitFor("\(node.name) to accept connections by hand", timeout: 60) {
            (try? self.query(self.url(node), "SELECT 1")) != nil
        }
    }

    /// The nodes' states as the monitor reports them (name → reported state).
    func states() throws -> [String: String] {
        let connection = try Connection(monitorURL)
        defer { connection.close() }
        var states: [String: String] = [:]
        for row in try connection.query("SELECT nodename, reportedstate::text AS state FROM pgautofailover.node") {
            states[try row.decode("nodename")] = try row.decode("state")
        }
        return states
    }

    /// Waits until each named node reports one of its wanted states.
    func waitForState(_ wanted: [String: Set<String>], timeout: Double) throws {
        try waitFor("states \(wanted)", timeout: timeout) {
            guard let states = try? self.states() else { return false }
            return wanted.allSatisfy { name, accepted in states[name].map(accepted.contains) ?? false }
        }
    }

    /// Whether `node` answers as a primary that accepts writes.
    func isWritablePrimary(_ node: Node) -> Bool {
        guard let connection = try? Connection(url(node)) else { return false }
        defer { connection.close() }
        guard let role = try? connection.serverRole() else { return false }
        return role.isPrimary && !role.readOnly
    }

    /// Stops everything this formation started, by process group, and removes its directory.
    func stop() {
        for (_, leader) in groups { leader.killGroup() }
        groups = [:]
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The last lines of every log of the formation, for a failing test's message.
    func logs() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.filter { $0.hasSuffix(".log") } ?? []
        return files.sorted().map { file in
            let text = (try? String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)) ?? ""
            return "== \(file)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    // MARK: - Private

    private var environment: [String: String] {
        [
            "PATH": "\(Self.binaries):/usr/bin:/bin", "XDG_CONFIG_HOME": directory + "/config",
            "XDG_DATA_HOME": directory + "/share", "XDG_RUNTIME_DIR": directory + "/run", "PGHOST": "127.0.0.1",
            "HOME": directory,
        ]
    }

    /// The program and arguments, as `postgres` when this process is root (`setpriv` execs in
    /// place, so the pid stays the program's).
    private func asPostgres(_ arguments: [String]) -> [String] {
        geteuid() == 0
            ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + arguments
            : ["/usr/bin/env"] + arguments
    }

    /// Runs `pg_autoctl arguments` to its end; its output goes to `log`.log.
    private func run(_ arguments: [String], log: String) throws {
        let path = "\(directory)/\(log).log"
        let leader = try GroupLeader(asPostgres(["pg_autoctl"] + arguments), environment: environment, log: path)
        guard leader.waitForExit(timeout: 180) == 0 else {
            leader.killGroup()
            let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            throw FormationError("pg_autoctl \(arguments.prefix(2).joined(separator: " ")) failed: \(output.suffix(2000))")
        }
    }

    private func startKeeper(_ name: String, pgdata: String) throws {
        groups[name] = try GroupLeader(
            asPostgres(["pg_autoctl", "run", "--pgdata", pgdata]), environment: environment,
            log: "\(directory)/\(name).log")
    }

    private func query(_ conninfo: String, _ sql: String) throws -> QueryResult {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        return try connection.query(sql)
    }

    private func waitFor(_ what: String, timeout: Double, _ condition: () -> Bool) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return }
            usleep(100_000)
        }
        throw FormationError("timed out after \(timeout) s waiting for \(what)\n\(logs())")
    }

    /// Ports the kernel hands out as free on 127.0.0.1 now.
    private static func freePorts(_ count: Int) throws -> [Int] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        var ports: [Int] = []
        for _ in 0..<count {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            sockets.append(descriptor)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
                }
            }
            guard bound else { throw FormationError("no free port: \(String(cString: strerror(errno)))") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

/// A program started as the leader of a new process group, which everything it starts joins
/// (a keeper's PostgreSQL and its backends): ``killGroup()`` ends them all at once.
///
/// `posix_spawn` with every signal unblocked and at its default action: the test runner blocks
/// most signals, a mask children inherit, and a keeper that never sees its children's SIGCHLD
/// or a SIGTERM waits for ever.
final class GroupLeader: @unchecked Sendable {
    let pid: pid_t
    private var ended = false

    init(_ arguments: [String], environment: [String: String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard status == 0 else { throw FormationError("cannot start \(arguments[0]): \(String(cString: strerror(status)))") }
        self.pid = pid
    }

    /// The exit status, or -1 after `timeout` seconds (still running).
    func waitForExit(timeout: Double) -> Int32 {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                ended = true
                return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            }
            usleep(50_000)
        }
        return -1
    }

    /// SIGKILL to the whole group, then reaps the leader.
    func killGroup() {
        Foundation.kill(-pid, SIGKILL)
        if !ended {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            ended = true
        }
    }
}

struct FormationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
