import Foundation
import Postgres
import TestSupport
import Testing

@Suite struct ConnectionTransactionsTests {
    struct Refusal: Error {}

    private func count(_ connection: Connection) throws -> Int {
        try serverValue("(SELECT count(*) FROM t)", as: Int.self, on: connection)
    }

    private func prepared() throws -> Connection {
        let connection = try freshConnection()
        try connection.execute(script: "CREATE TABLE t (id int PRIMARY KEY)")
        return connection
    }

    @Test func commitsWhenTheBodyReturns() throws {
        let connection = try prepared()
        let value = try connection.transaction { connection in
            try connection.query("INSERT INTO t VALUES (1)")
            return "done"
        }
        #expect(value == "done")
        #expect(try count(connection) == 1)
        #expect(
            try serverValue("pg_current_xact_id_if_assigned() IS NULL", as: Bool.self, on: connection), "no transaction left open"
        )
    }

    @Test func rollsBackAndRethrowsWhenTheBodyThrows() throws {
        let connection = try prepared()
        #expect(throws: Refusal.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (1)")
                throw Refusal()
            }
        }
        #expect(try count(connection) == 0)
    }

    @Test func swallowedStatementErrorDoesNotClaimACommit() throws {
        let connection = try prepared()
        let error = try #require(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (1)")
                _ = try? connection.query("INSERT INTO t VALUES (1)")
            }
        }
        #expect(error.code == .client)
        #expect(try count(connection) == 0)
    }

    @Test func savepointRollbackKeepsEarlierWork() throws {
        let connection = try prepared()
        try connection.transaction { connection in
            try connection.query("INSERT INTO t VALUES (1)")
            #expect(throws: PostgresError.self) {
                try connection.savepoint { connection in
                    try connection.query("INSERT INTO t VALUES (2)")
                    try connection.query("INSERT INTO t VALUES (1)") // unique violation
                }
            }
            try connection.savepoint { connection in
                try connection.query("INSERT INTO t VALUES (3)")
            }
        }
        let ids = try connection.query("SELECT id FROM t ORDER BY id").map { try $0.decode(Int.self, "id") }
        #expect(ids == [1, 3])
    }

    @Test func nestedTransactionUsesASavepoint() throws {
        let connection = try prepared()
        try connection.transaction { connection in
            try connection.query("INSERT INTO t VALUES (1)")
            #expect(throws: Refusal.self) {
                try connection.transaction { connection in
                    try connection.query("INSERT INTO t VALUES (2)")
                    throw Refusal()
                }
            }
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (4)")
            }
        }
        let ids = try connection.query("SELECT id FROM t ORDER BY id").map { try $0.decode(Int.self, "id") }
        #expect(ids == [1, 4])
    }

    @Test func savepointOutsideATransactionIsMisuse() throws {
        let connection = try prepared()
        let error = try #require(throws: PostgresError.self) {
            try connection.savepoint { _ in }
        }
        #expect(error.code == .client)
    }

    @Test func lostConnectionInTheBodyRethrowsTheOriginalError() throws {
        let conninfo = try TestDatabases.shared().create()
        let victim = try Connection(conninfo)
        let killer = try Connection(conninfo)
        let error = try #require(throws: PostgresError.self) {
            try victim.transaction { victim in
                _ = try serverValue("pg_terminate_backend(\(victim.backendPID))", as: Bool.self, on: killer)
                // Wait until the backend has gone, so the next statement must fail.
                let deadline = ContinuousClock.now.advanced(by: .seconds(5))
                while try serverValue(
                    "(SELECT count(*) FROM pg_stat_activity WHERE pid = \(victim.backendPID))", as: Int.self, on: killer) > 0,
                    ContinuousClock.now < deadline
                {
                    usleep(10_000)
                }
                try victim.query("SELECT 1")
            }
        }
        #expect(error.code == .connectionLost)
        #expect(error.query == "SELECT 1")
    }
}
