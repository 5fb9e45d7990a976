import Foundation
import Postgres
import TestSupport
import Testing

@Suite struct ConnectionTests {
    @Test func connectsAndReportsItsBackend() throws {
        let connection = try freshConnection()
        #expect(connection.isOpen)
        let pid = try serverValue("pg_backend_pid()", as: Int32.self, on: connection)
        #expect(connection.backendPID == pid)
        connection.close()
        connection.close()
        #expect(!connection.isOpen)
        #expect(connection.backendPID == 0)
    }

    @Test func closedConnectionRefusesQueries() throws {
        let connection = try freshConnection()
        connection.close()
        let error = try #require(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(error.code == .client)
    }

    @Test func sessionIsSetUpForDeterministicDecoding() throws {
        let connection = try freshConnection()
        #expect(try serverValue("current_setting('TimeZone')", as: String.self, on: connection) == "UTC")
        #expect(try serverValue("current_setting('DateStyle')", as: String.self, on: connection) == "ISO, YMD")
        #expect(try serverValue("current_setting('IntervalStyle')", as: String.self, on: connection) == "iso_8601")
        #expect(try serverValue("current_setting('application_name')", as: String.self, on: connection) == "eticket")
    }

    @Test func explicitApplicationNameWins() throws {
        let conninfo = try TestDatabases.shared().create() + " application_name=worker7"
        let connection = try Connection(conninfo)
        #expect(try serverValue("current_setting('application_name')", as: String.self, on: connection) == "worker7")
    }

    @Test func queryReportsColumnsRowsAndAffectedCount() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (id int, name text); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        let updated = try connection.query("UPDATE t SET name = upper(name) WHERE id >= $1", [2])
        #expect(updated.rowsAffected == 2)
        #expect(updated.isEmpty)
        let selected = try connection.query("SELECT id, name FROM t ORDER BY id")
        #expect(selected.columns == ["id", "name"])
        #expect(selected.count == 3)
        #expect(try selected.map { try $0.decode(String.self, "name") } == ["a", "B", "C"])
        #expect(selected.rowsAffected == 3)
    }

    @Test func nullParameterIsSQLNull() throws {
        let connection = try freshConnection()
        let row = try #require(try connection.query("SELECT $1::text IS NULL AS missing", [nil]).first)
        #expect(try row.decode(Bool.self, "missing"))
    }

    @Test func parameterWithNULCharacterIsRefused() throws {
        let connection = try freshConnection()
        let error = try #require(throws: PostgresError.self) { try connection.query("SELECT $1::text", ["a\u{0}b"]) }
        #expect(error.code == .client)
        #expect(error.message.contains("$1"))
    }

    @Test func uniqueViolationCarriesSQLStateDetailAndConstraint() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (id int CONSTRAINT t_pkey PRIMARY KEY)")
        try connection.query("INSERT INTO t VALUES ($1)", [7])
        let error = try #require(throws: PostgresError.self) { try connection.query("INSERT INTO t VALUES ($1)", [7]) }
        #expect(error.code == .server)
        #expect(error.sqlState == "23505")
        #expect(error.constraint == "t_pkey")
        #expect(error.detail?.contains("(id)=(7)") == true)
        #expect(error.query == "INSERT INTO t VALUES ($1)")
        #expect(error.description.contains("SQLSTATE 23505"))
        #expect(!error.isConnectionError)
        // The failed statement leaves the connection usable.
        #expect(try serverValue("1", as: Int.self, on: connection) == 1)
    }

    @Test func syntaxErrorCarriesSQLState() throws {
        let connection = try freshConnection()
        let error = try #require(throws: PostgresError.self) { try connection.execute(script: "SELEKT 1") }
        #expect(error.code == .server)
        #expect(error.sqlState == "42601")
        #expect(error.message.contains("syntax error"))
    }

    @Test func scriptRunsEveryStatementAndStopsAtTheFirstError() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE a (x int); CREATE TABLE b (x int); INSERT INTO b VALUES (1)")
        #expect(try serverValue("(SELECT count(*) FROM b)", as: Int.self, on: connection) == 1)
        #expect(throws: PostgresError.self) { try connection.execute(script: "INSERT INTO a VALUES (1); SELECT 1/0") }
        // One implicit transaction: the insert before the error is gone.
        #expect(try serverValue("(SELECT count(*) FROM a)", as: Int.self, on: connection) == 0)
    }

    @Test func terminatedBackendIsReportedAsConnectionLost() throws {
        let conninfo = try TestDatabases.shared().create()
        let victim = try Connection(conninfo)
        let killer = try Connection(conninfo)
        let terminated = try serverValue("pg_terminate_backend(\(victim.backendPID))", as: Bool.self, on: killer)
        #expect(terminated)
        // pg_terminate_backend only signals: give the backend a moment to go.
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while try serverValue(
            "(SELECT count(*) FROM pg_stat_activity WHERE pid = \(victim.backendPID))", as: Int.self, on: killer) > 0,
            ContinuousClock.now < deadline
        {
            usleep(10_000)
        }
        let error = try #require(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(error.code == .connectionLost)
        #expect(error.isConnectionError)
        #expect(!victim.isOpen)
    }

    @Test func nonexistentSocketDirectoryIsConnectionFailed() throws {
        let error = try #require(throws: PostgresError.self) {
            try Connection("host=/nonexistent/eticket-socket-dir port=5432 user=postgres dbname=postgres connect_timeout=2")
        }
        #expect(error.code == .connectionFailed)
        #expect(error.isConnectionError)
        #expect(error.message.contains("/nonexistent/eticket-socket-dir"))
    }

    @Test func noticesDoNotDisturbTheConnection() throws {
        let connection = try freshConnection()
        try connection.execute(script: "DO $$ BEGIN RAISE NOTICE 'noise'; END $$")
        #expect(try serverValue("1", as: Int.self, on: connection) == 1)
    }

    @Test func copyStatementThroughQueryIsRefusedAndConnectionStaysUsable() throws {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (x int)")
        let error = try #require(throws: PostgresError.self) { try connection.query("COPY t FROM STDIN") }
        #expect(error.code == .client)
        #expect(try serverValue("(SELECT count(*) FROM t)", as: Int.self, on: connection) == 0)
    }
}
