import Foundation
import LocalPostgres
import Postgres
import Synchronization

/// Fresh, isolated databases for tests, on one server per test process.
///
/// With `ETICKET_TEST_DATABASE_URL` set (a libpq URI or `key=value` string naming a database the
/// user can connect to, as a role allowed to create databases), databases are created on that
/// server and dropped when the process exits normally (a crashed run leaves its `t_<pid>_<n>`
/// databases behind). Otherwise one ``LocalCluster`` (``LocalCluster/Options/fastUnsafe``, with
/// ``LocalCluster/Options/statementStatistics`` for the benchmark's tests)
/// starts at first use and stops when the process exits.
public final class TestDatabases: Sendable {
    private let cluster: LocalCluster?
    private let externalServer: String?
    private let counter = Atomic<Int>(0)
    private let templates = Mutex<[String: TemplateSlot]>([:])
    /// Databases to drop at exit on an external server, templates last.
    private let created = Mutex<[String]>([])

    private init(cluster: LocalCluster?, externalServer: String?) {
        self.cluster = cluster
        self.externalServer = externalServer
    }

    private static let sharedInstance: Result<TestDatabases, any Error> = Result {
        if let url = ProcessInfo.processInfo.environment["ETICKET_TEST_DATABASE_URL"], !url.isEmpty {
            atexit {
                if case .success(let databases) = TestDatabases.sharedInstance {
                    databases.dropCreatedDatabases()
                }
            }
            return TestDatabases(cluster: nil, externalServer: url)
        }
        let cluster = try LocalCluster.start(options: .init(fastUnsafe: true, statementStatistics: true))
        // Swift Testing has no process-wide teardown; atexit is the last moment to stop the server.
        atexit {
            if case .success(let databases) = TestDatabases.sharedInstance, let cluster = databases.cluster {
                stopLeavingRemovalBehind(cluster)
            }
        }
        return TestDatabases(cluster: cluster, externalServer: nil)
    }

    /// The process-wide instance, created at first call.
    /// - Throws: ``LocalPostgresError`` when no server could be started; every later call
    ///   throws the same error.
    public static func shared() throws -> TestDatabases {
        try sharedInstance.get()
    }

    /// Creates a new empty database with a unique name (`t_<pid>_<n>`).
    ///
    /// - Parameter template: A database to copy, such as the name ``template(named:prepare:)``
    ///   returned; `nil` for PostgreSQL's default template.
    /// - Returns: A conninfo for the new database.
    /// - Throws: ``LocalPostgresError`` with code `databaseCreationFailed`.
    public func create(template: String? = nil) throws -> String {
        let number = counter.add(1, ordering: .relaxed).newValue
        let name = "t_\(getpid())_\(number)"
        var sql = "CREATE DATABASE \(try Connection.quoteIdentifier(name))"
        if let template { sql += " TEMPLATE \(try Connection.quoteIdentifier(template))" }
        try administer(sql, creating: name)
        return try conninfo(database: name)
    }

    /// Creates and prepares a template database once per process per name.
    ///
    /// The first caller creates the database, runs `prepare` with its conninfo (to run
    /// migrations, say) and closes every remaining session on it so that it can be copied;
    /// concurrent callers wait for it, later ones get the result at once (a failure included).
    /// - Parameters:
    ///   - name: The template's name in this process; the database is `<name>_<pid>`.
    ///   - prepare: Fills the template. It must close the connections it opens.
    /// - Returns: The database name to pass to ``create(template:)``.
    /// - Throws: ``LocalPostgresError`` with code `databaseCreationFailed`, or what `prepare` threw.
    public func template(named name: String, prepare: (String) throws -> Void) throws -> String {
        let slot = templates.withLock { slots in
            if let slot = slots[name] { return slot }
            let slot = TemplateSlot()
            slots[name] = slot
            return slot
        }
        return try slot.result.withLock { (result: inout Result<String, any Error>?) throws -> String in
            if let result { return try result.get() }
            let outcome = Result { () throws -> String in
                let database = "\(name)_\(getpid())"
                try administer("CREATE DATABASE \(try Connection.quoteIdentifier(database))", creating: database)
                try prepare(try conninfo(database: database))
                // CREATE DATABASE ... TEMPLATE refuses a template with sessions on it.
                let admin = try Connection(try adminConninfo())
                defer { admin.close() }
                try admin.query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                    [database])
                return database
            }
            result = outcome
            return try outcome.get()
        }
    }

    /// Drops what this process created on an external server; sessions still open on them are ended.
    private func dropCreatedDatabases() {
        let names = created.withLock { names in
            defer { names.removeAll() }
            return names
        }
        guard !names.isEmpty, let admin = try? Connection(adminConninfo()) else { return }
        defer { admin.close() }
        for name in names.reversed() {
            try? admin.execute(script: "DROP DATABASE IF EXISTS \(try Connection.quoteIdentifier(name)) WITH (FORCE)")
        }
    }

    private func conninfo(database: String) throws -> String {
        if let cluster { return cluster.connectionString(database: database) }
        return try Connection.conninfo(externalServer ?? "", settingDatabase: database)
    }

    private func adminConninfo() throws -> String {
        if let cluster { return cluster.connectionString() }
        return externalServer ?? ""
    }

    /// Runs a CREATE DATABASE, retrying while a just-closed session on the template lingers.
    private func administer(_ sql: String, creating database: String) throws {
        var attempts = 0
        while true {
            do {
                let admin = try Connection(try adminConninfo())
                defer { admin.close() }
                try admin.execute(script: sql)
                if externalServer != nil { created.withLock { $0.append(database) } }
                return
            } catch let error as PostgresError where error.sqlState == "55006" && attempts < 20 {
                attempts += 1
                usleep(100_000)
            } catch {
                throw LocalPostgresError(
                    code: .databaseCreationFailed, message: "could not create database \(database): \(error)")
            }
        }
    }
}

/// The once-only outcome of one template's preparation; its lock makes late callers wait.
private final class TemplateSlot: Sendable {
    let result = Mutex<Result<String, any Error>?>(nil)
}

extension TestDatabases {
    /// Pins `eticket.clock`, the instant the back office decides from, for every later session on
    /// the database `conninfo` names: data with fixed dates (the examples) then tells the same story
    /// whatever day the tests run on. A copy made with ``create(template:)`` does not inherit it.
    ///
    /// - Parameter instant: An RFC 3339 date-time, such as `2026-12-03T12:00:00Z`.
    public static func pinDecisionClock(_ conninfo: String, at instant: String) throws {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try connection.setDatabaseDefault("eticket.clock", to: instant)
    }
}

/// Stops `cluster`'s server and removes its directory in a process of its own that outlives this
/// one: a test run leaves a few hundred databases behind (a hundred thousand files), whose removal
/// took five minutes on a busy disk after the tests had passed, and nothing needs to wait for it.
/// Should the remover fail to start, the cluster is stopped and removed here, as before.
private func stopLeavingRemovalBehind(_ cluster: LocalCluster) {
    let server = cluster.detach()
    kill(server, SIGINT)
    // The server is this process's child: it goes once this process has exited and it has shut down.
    let script = "while kill -0 \"$1\" 2>/dev/null; do sleep 0.2; done; rm -rf -- \"$2\""
    let arguments = ["/bin/sh", "-c", script, "sh", String(server), cluster.directory]
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // A session of its own: no terminal's hang-up or the test runner's process group reaches it.
    // (POSIX_SPAWN_SETSID, 0x80 in glibc's spawn.h, which Swift's Glibc module does not export.)
    posix_spawnattr_setflags(&attributes, 0x80)
    // Nothing of the runner's: `swift test` reads this process's output until every holder of
    // its pipes has closed them, and would wait for the removal.
    var files = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&files)
    defer { posix_spawn_file_actions_destroy(&files) }
    for descriptor: Int32 in [0, 1, 2] {
        posix_spawn_file_actions_addopen(&files, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
    }
    // And no other descriptor of this process (glibc ignores one that is closed by then).
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for descriptor in open.compactMap({ Int32($0) }) where descriptor > 2 {
        posix_spawn_file_actions_addclose(&files, descriptor)
    }
    var remover: pid_t = 0
    let status = withArrayOfCStrings(arguments) { argv in
        posix_spawn(&remover, "/bin/sh", &files, &attributes, argv, environ)
    }
    if status != 0 {
        while kill(server, 0) == 0 && waitpid(server, nil, WNOHANG) == 0 { usleep(10_000) }
        try? FileManager.default.removeItem(atPath: cluster.directory)
    }
}

/// `body` with `strings` as a NULL-terminated C array, as posix_spawn takes its arguments.
private func withArrayOfCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(pointers)
}
