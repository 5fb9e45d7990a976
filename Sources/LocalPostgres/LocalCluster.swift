import Foundation
import Postgres
import Synchronization

/// A throw-away PostgreSQL cluster in a temporary directory, reachable through a unix socket (and,
/// when ``Options/network`` says so, over TCP with TLS only).
///
/// For the demo and the tests: by default nothing listens on TCP, and ``stop()`` deletes every byte of it.
/// The server is a direct child of this process; call ``stop()`` (or let the object go) before
/// the process ends, or the server outlives it.
public final class LocalCluster: Sendable {
    /// How to configure the server.
    public struct Options: Sendable {
        /// Turns off `fsync`, `synchronous_commit` and `full_page_writes`.
        ///
        /// - Important: A crash then loses or corrupts data. For tests only, never for figures
        ///   anyone reads as durable performance.
        public var fastUnsafe: Bool
        /// Further server settings, passed as `-c name=value`.
        public var extraSettings: [String: String]
        /// Loads `pg_stat_statements`, when the installation has it, so that a benchmark can say
        /// what each statement cost the server.
        public var statementStatistics: Bool
        /// Listens on TCP too, for TLS connections only; `nil` keeps the unix socket alone.
        public var network: NetworkListener?

        public init(
            fastUnsafe: Bool = false, extraSettings: [String: String] = [:], statementStatistics: Bool = false,
            network: NetworkListener? = nil
        ) {
            self.fastUnsafe = fastUnsafe
            self.extraSettings = extraSettings
            self.statementStatistics = statementStatistics
            self.network = network
        }
    }

    /// TCP with TLS, the way a production server is reached.
    ///
    /// `pg_hba.conf` then admits TCP clients only from `clientNetworks` and only over TLS
    /// (`hostssl`): a connection without TLS is refused by the server, not merely discouraged.
    public struct NetworkListener: Sendable {
        /// The addresses the server listens on (`listen_addresses`); each must exist on the machine.
        public var addresses: [String]
        /// The TCP port, and the number in the unix socket's name.
        public var port: Int
        /// The server's certificate chain and private key (copied into the cluster, key mode 0600).
        public var certificate: ServerCertificate
        /// The networks clients may connect from, in CIDR form (`10.0.0.0/30`, `127.0.0.1/32`).
        public var clientNetworks: [String]

        public init(addresses: [String], port: Int, certificate: ServerCertificate, clientNetworks: [String]) {
            self.addresses = addresses
            self.port = port
            self.certificate = certificate
            self.clientNetworks = clientNetworks
        }
    }

    /// The temporary directory holding the data directory (`data/`), the socket and the logs.
    public let directory: String
    /// The directory of the unix socket, as libpq's `host` wants it.
    public var socketDirectory: String { directory }
    /// The port number in the socket's name (`.s.PGSQL.5432`), and the TCP port when
    /// ``Options/network`` is set (otherwise nothing listens on TCP).
    public let port: Int

    /// The running server; replaced by ``restart()``.
    private let server: Mutex<ChildProcess>
    /// How to start the server again: the program and its arguments.
    private let serverCommand: (executable: String, arguments: [String])
    private let stopped = Mutex(false)

    private init(
        directory: String, port: Int, server: ChildProcess, serverCommand: (executable: String, arguments: [String])
    ) {
        self.directory = directory
        self.port = port
        self.server = Mutex(server)
        self.serverCommand = serverCommand
    }

    deinit {
        stop()
    }

    /// Creates a cluster with `initdb` in a new temporary directory, starts its server and waits
    /// until it accepts connections.
    ///
    /// As root, the directory is given to the `postgres` user and the programs run as that user
    /// through `setpriv` (the server refuses to run as root).
    /// - Parameter options: Server settings.
    /// - Returns: The running cluster.
    /// - Throws: ``LocalPostgresError``: `notInstalled` without the server binaries, `initdbFailed`,
    ///   `startFailed` (with the end of the server log), `timeout` after 30 seconds.
    public static func start(options: Options = .init()) throws(LocalPostgresError) -> LocalCluster {
        try start(options: options, binaries: PostgresBinaries.locate())
    }

    static func start(options: Options, binaries: PostgresBinaries) throws(LocalPostgresError) -> LocalCluster {
        let runAs = try RunAs.current()
        let directory = try makeTemporaryDirectory(worldSearchableBase: runAs.needsSharedTemporaryDirectory)
        do throws(LocalPostgresError) {
            try runAs.giveOwnership(of: directory)
            let initdb = try ChildProcess.spawn(
                runAs.executable(for: binaries.initdb),
                runAs.arguments(
                    for: binaries.initdb,
                    [
                        "-D", directory + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        supportsCUTF8 ? "--locale=C.UTF-8" : "--no-locale",
                        // The cluster is thrown away: waiting for its files to reach the disk buys nothing.
                        "--no-sync",
                    ]),
                logPath: directory + "/initdb.log")
            let status = initdb.waitForExit()
            guard status == 0 else {
                throw LocalPostgresError(
                    code: .initdbFailed,
                    message: "initdb failed with status \(status): \(tail(of: directory + "/initdb.log"))")
            }

            var settings = ["listen_addresses": "", "unix_socket_directories": directory]
            if let network = options.network {
                try runAs.configureTLS(network, dataDirectory: directory + "/data")
                settings["listen_addresses"] = network.addresses.joined(separator: ",")
                settings["ssl"] = "on"
            }
            if options.fastUnsafe {
                settings["fsync"] = "off"
                settings["synchronous_commit"] = "off"
                settings["full_page_writes"] = "off"
            }
            if options.statementStatistics, binaries.hasLibrary("pg_stat_statements") {
                settings["shared_preload_libraries"] = "pg_stat_statements"
                // Room for every statement of a test run's hundreds of databases (an entry is
                // kept per database), so that none is evicted while a benchmark reads it.
                settings["pg_stat_statements.max"] = "20000"
            }
            settings.merge(options.extraSettings) { _, extra in extra }
            let port = options.network?.port ?? 5432
            let arguments =
                ["-D", directory + "/data", "-p", "\(port)"]
                + settings.sorted { $0.key < $1.key }.flatMap { ["-c", "\($0.key)=\($0.value)"] }
            let command = (
                executable: runAs.executable(for: binaries.postgres),
                arguments: runAs.arguments(for: binaries.postgres, arguments)
            )
            let server = try ChildProcess.spawn(command.executable, command.arguments, logPath: directory + "/server.log")
            let cluster = LocalCluster(directory: directory, port: port, server: server, serverCommand: command)
            try cluster.waitUntilAccepting(timeout: .seconds(30))
            return cluster
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// A libpq `key=value` conninfo for a database of this cluster, as user `postgres`.
    ///
    /// - Precondition: `database` holds no NUL (a test's own name; no path can hold one either).
    public func connectionString(database: String = "postgres") -> String {
        precondition(!database.utf8.contains(0), "a database name cannot hold NUL")
        // swift-format-ignore: NeverUseForceTry
        return
            "host=\(try! quoteConninfoValue(socketDirectory)) port=\(port) user=postgres dbname=\(try! quoteConninfoValue(database))"
    }

    /// Stops the server (fast shutdown: sessions are ended, nothing waits for clients) and deletes
    /// the directory. Calling it again does nothing.
    public func stop() {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        shutDownServer()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Leaves the server running past this object and this process: ``stop()`` and deinit no longer
    /// touch it. Stop it later with SIGINT to the returned process id, then remove ``directory``.
    /// - Returns: the server's process id.
    @discardableResult
    public func detach() -> Int32 {
        stopped.withLock { $0 = true }
        return server.withLock { $0 }.pid
    }

    /// Stops the server (fast shutdown: sessions are ended) and starts it again on the same data
    /// directory and socket, then waits until it accepts connections. The data is kept.
    ///
    /// For tests of clients that must survive a server restart.
    /// - Throws: ``LocalPostgresError``: `startFailed` when the cluster was stopped or the server
    ///   exits while starting, `system` when it cannot be started, `timeout` after 30 seconds.
    public func restart() throws(LocalPostgresError) {
        guard !stopped.withLock({ $0 }) else {
            throw LocalPostgresError(code: .startFailed, message: "the cluster in \(directory) was stopped")
        }
        shutDownServer()
        let server = try ChildProcess.spawn(
            serverCommand.executable, serverCommand.arguments, logPath: directory + "/server.log")
        self.server.withLock { $0 = server }
        try waitUntilAccepting(timeout: .seconds(30))
    }

    /// Asks the server for a fast shutdown (SIGINT) and waits for it to end; SIGKILL after 30 s.
    private func shutDownServer() {
        let server = self.server.withLock { $0 }
        kill(server.pid, SIGINT)
        let deadline = ContinuousClock.now.advanced(by: .seconds(30))
        while server.exitCodeIfEnded() == nil {
            if ContinuousClock.now > deadline {
                kill(server.pid, SIGKILL)
                server.waitForExit()
                break
            }
            usleep(10_000)
        }
    }

    private func waitUntilAccepting(timeout: Duration) throws(LocalPostgresError) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var lastError = ""
        while ContinuousClock.now < deadline {
            if let status = server.withLock({ $0 }).exitCodeIfEnded() {
                stopped.withLock { $0 = true }
                throw LocalPostgresError(
                    code: .startFailed,
                    message:
                        "the PostgreSQL server exited with status \(status) while starting: \(tail(of: directory + "/server.log"))"
                )
            }
            do {
                let connection = try Connection(connectionString())
                connection.close()
                return
            } catch {
                lastError = error.message
            }
            usleep(20_000)
        }
        let log = tail(of: directory + "/server.log")
        stop()
        throw LocalPostgresError(
            code: .timeout,
            message: "the PostgreSQL server did not accept connections within \(timeout) (\(lastError)): \(log)")
    }
}

/// Whether the C library knows the `C.UTF-8` locale (glibc 2.35+ and Debian have it built in).
private let supportsCUTF8: Bool = {
    guard let locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil) else { return false }
    freelocale(locale)
    return true
}()

/// Creates a private directory with a path short enough for a unix socket inside it (107 bytes).
private func makeTemporaryDirectory(worldSearchableBase: Bool) throws(LocalPostgresError) -> String {
    var base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
    // The postgres user must reach the directory: as root, a private TMPDIR would lock it out.
    if worldSearchableBase || (base + "/etpg-XXXXXX/.s.PGSQL.5432.lock").utf8.count > 107 {
        base = "/tmp"
    }
    var template = Array((base + "/etpg-XXXXXX").utf8CString)
    guard let created = mkdtemp(&template) else {
        throw LocalPostgresError(
            code: .system, message: "could not create a temporary directory in \(base): \(String(cString: strerror(errno)))")
    }
    return String(cString: created)
}

/// The last lines of a log, on one line, for an error message.
package func tail(of path: String, lines: Int = 15) -> String {
    guard let data = FileManager.default.contents(atPath: path) else { return "(no log at \(path))" }
    let text = String(decoding: data, as: UTF8.self)
    let last = text.split(separator: "\n").suffix(lines)
    return last.isEmpty ? "(empty log \(path))" : last.joined(separator: " | ")
}

/// Who runs the server programs: this process's user, or `postgres` when this process is root.
struct RunAs {
    var postgresUser: (uid: uid_t, gid: gid_t)?
    var setpriv: String?

    var needsSharedTemporaryDirectory: Bool { postgresUser != nil }

    static func current() throws(LocalPostgresError) -> RunAs {
        guard geteuid() == 0 else { return RunAs() }
        guard let entry = getpwnam("postgres") else {
            throw LocalPostgresError(
                code: .startFailed,
                message:
                    "PostgreSQL refuses to run as root and there is no postgres user: run as another user or install postgresql")
        }
        guard
            let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw LocalPostgresError(
                code: .startFailed, message: "running as root needs setpriv (util-linux) to start PostgreSQL as postgres")
        }
        return RunAs(postgresUser: (entry.pointee.pw_uid, entry.pointee.pw_gid), setpriv: setpriv)
    }

    func giveOwnership(of directory: String) throws(LocalPostgresError) {
        guard let postgresUser else { return }
        guard chown(directory, postgresUser.uid, postgresUser.gid) == 0 else {
            throw LocalPostgresError(
                code: .system, message: "could not give \(directory) to the postgres user: \(String(cString: strerror(errno)))")
        }
    }

    func executable(for program: String) -> String {
        setpriv ?? program
    }

    /// `setpriv` replaces itself with the program (no fork), so the child pid is the program's
    /// and signals reach it directly.
    func arguments(for program: String, _ arguments: [String]) -> [String] {
        guard setpriv != nil else { return arguments }
        return ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", program] + arguments
    }
}
