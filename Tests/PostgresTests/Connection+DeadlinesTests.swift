import Foundation
import LocalPostgres
import Postgres
import TestSupport
import Testing

/// Every wait has a bound: a statement blocked by a lock and a commit waiting for a synchronous
/// standby that does not exist end with `timedOut`, the statement cancelled on the server and the
/// connection closed, instead of hanging the caller.
@Suite struct ConnectionDeadlinesTests {
    @Test func aStatementBlockedByALockIsCancelledAtItsBound() throws {
        let conninfo = try TestDatabases.shared().create()
        let holder = try Connection(conninfo)
        try holder.execute(script: "CREATE TABLE held (id int)")
        try holder.execute(script: "BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        let waiter = try Connection(conninfo)
        // A cancel that lands before the backend starts the statement (a loaded machine) is
        // lost; the server then notices the closed socket at its next check, as eticket's
        // sessions have it (Database.connect).
        try waiter.execute(script: "SET client_connection_check_interval = '100ms'")
        waiter.waitLimits = WaitLimits(statement: .seconds(1))
        let pid = waiter.backendPID
        let server = waiter.server
        let error = thrown { _ = try waiter.query("SELECT count(*) FROM held") }
        #expect(error?.code == .timedOut)
        #expect(error?.phase == .statement)
        #expect(error?.server == server)
        #expect(error?.isConnectionError == true)
        #expect(error?.message.contains("did not answer a statement within 1 s") == true, "\(error?.message ?? "")")
        #expect(!waiter.isOpen)
        // The cancel (or the closed socket) ends the waiting backend while the lock is still held.
        // Seen from a session of its own: inside the holder's transaction pg_stat_activity is a
        // snapshot taken at its first read, which would never change.
        let observer = try Connection(conninfo)
        try waitUntil("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid)", is: 0, on: observer)
        try holder.execute(script: "ROLLBACK")
    }

    @Test func aCommitWaitingForAMissingStandbyIsCancelledAndItsEffectsStayOnTheServer() throws {
        // A primary whose only synchronous standby does not exist: every commit waits for it.
        let cluster = try LocalCluster.start(
            options: .init(fastUnsafe: false, extraSettings: ["synchronous_standby_names": "missing_standby"]))
        defer { cluster.stop() }
        let observer = try Connection(cluster.connectionString())
        try observer.execute(script: "SET synchronous_commit = local; CREATE TABLE decided (id int)")
        let connection = try Connection(cluster.connectionString())
        connection.waitLimits = WaitLimits(statement: .seconds(3600), commit: .milliseconds(300))
        let pid = connection.backendPID
        let error = thrown { try connection.transaction { _ = try $0.query("INSERT INTO decided VALUES (1)") } }
        #expect(error?.code == .timedOut)
        #expect(error?.phase == .commit)
        #expect(error?.message.contains("synchronous standby") == true, "\(error?.message ?? "")")
        try waitUntil("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid)", is: 0, on: observer)
        // What eticket documents: PostgreSQL committed it locally before waiting, and keeps it.
        #expect(try observer.query("SELECT count(*) AS n FROM decided").first?.decode(Int.self, "n") == 1)
    }

    /// A commit's bound applies to a bare COMMIT however it is written, and to nothing else.
    @Test func aCommitIsTheWordAloneInAnyCase() {
        for commit in ["COMMIT", "commit", " Commit\n", "\tcOmMiT \r\n"] { #expect(Connection.isCommit(commit), "\(commit)") }
        for other in ["", "COMMIT;", "COMMIT PREPARED 'x'", "COMMITS", "ÇOMMIT", "SELECT 'COMMIT'", "C O M M I T"] {
            #expect(!Connection.isCommit(other), "\(other)")
        }
    }

    @Test func noBoundWaitsAsLibpqDoes() throws {
        let connection = try Connection(try TestDatabases.shared().create())
        #expect(connection.waitLimits == .unbounded)
        #expect(try connection.query("SELECT 1 AS one").first?.decode(Int.self, "one") == 1)
    }

    @Test func aScriptKeepsItsFirstErrorAsPQexecDid() throws {
        let connection = try Connection(try TestDatabases.shared().create())
        connection.waitLimits = WaitLimits(statement: .seconds(30), commit: .seconds(30))
        let error = thrown { try connection.execute(script: "SELECT 1; SELECT * FROM no_such_table; SELECT 2") }
        #expect(error?.sqlState == "42P01")
        #expect(try connection.query("SELECT 3 AS n").first?.decode(Int.self, "n") == 3)
    }

    @Test func serverRoleSaysPrimary() throws {
        let connection = try Connection(try TestDatabases.shared().create())
        let role = try connection.serverRole()
        #expect(role.isPrimary && !role.readOnly)
        #expect(role.server == connection.server && !role.server.isEmpty)
    }

    @Test func theServerLeftIsTriedLast() throws {
        let rotated = Connection.conninfo(
            "postgresql://eticket@a:5432,b:5433,c:5434/eticket?target_session_attrs=read-write", tryingLast: "a:5432")
        let settings = try Connection.conninfoSettings(rotated)
        #expect(settings["host"] == "b,c,a")
        #expect(settings["port"] == "5433,5434,5432")
        #expect(settings["target_session_attrs"] == "read-write")
        #expect(settings["dbname"] == "eticket" && settings["user"] == "eticket")
        let middle = try Connection.conninfoSettings(Connection.conninfo("host=a,b,c port=6000", tryingLast: "b:6000"))
        #expect(middle["host"] == "c,a,b" && middle["port"] == "6000")
        // One host, or a server the string does not name: unchanged.
        #expect(Connection.conninfo("host=a port=1", tryingLast: "a:1") == "host=a port=1")
        #expect(Connection.conninfo("host=a,b port=1", tryingLast: "z:1") == "host=a,b port=1")
    }

    /// The `PostgresError` that `body` throws; records an issue when it throws none or another.
    ///
    /// Not `#expect(throws:)`'s returned error: with a closure whose throws are typed, keeping
    /// that value crashed the test process (swift-testing 6.3.1) in a full run.
    private func thrown(_ body: () throws -> Void) -> PostgresError? {
        do {
            try body()
            Issue.record("no error thrown")
        } catch let error as PostgresError {
            return error
        } catch {
            Issue.record("not a PostgresError: \(error)")
        }
        return nil
    }

    /// Polls `sql` (a count) until it is `expected`: a state, not a duration.
    private func waitUntil(_ sql: String, is expected: Int, on connection: Connection) throws {
        for _ in 0..<6000 {
            if try connection.query(sql).first?.decode(Int.self, "count") == expected { return }
            usleep(10_000)
        }
        Issue.record("\(sql) never became \(expected)")
    }
}
