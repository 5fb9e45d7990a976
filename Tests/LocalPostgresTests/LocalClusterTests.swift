import Foundation
import Postgres
import Testing

@testable import LocalPostgres

@Suite struct LocalClusterTests {
    @Test func startsServesAndStopsWithoutTrace() throws {
        let cluster = try LocalCluster.start(options: .init(extraSettings: ["work_mem": "8MB"]))
        #expect(FileManager.default.fileExists(atPath: cluster.socketDirectory + "/.s.PGSQL.5432"))
        #expect(cluster.socketDirectory.utf8.count + "/.s.PGSQL.5432".utf8.count <= 107)
        let connection = try Connection(cluster.connectionString())
        let row = try #require(
            try connection.query(
                "SELECT current_setting('work_mem') AS w, current_setting('listen_addresses') AS l, current_setting('fsync') AS f"
            ).first)
        #expect(try row.decode(String.self, "w") == "8MB")
        #expect(try row.decode(String.self, "l") == "")
        #expect(try row.decode(String.self, "f") == "on")
        connection.close()

        cluster.stop()
        cluster.stop()
        #expect(!FileManager.default.fileExists(atPath: cluster.directory))
        let error = try #require(throws: PostgresError.self) { try Connection(cluster.connectionString()) }
        #expect(error.code == .connectionFailed)
    }

    @Test func fastUnsafeTurnsDurabilityOff() throws {
        let cluster = try LocalCluster.start(options: .init(fastUnsafe: true))
        defer { cluster.stop() }
        let connection = try Connection(cluster.connectionString())
        defer { connection.close() }
        let row = try #require(
            try connection.query("SELECT current_setting('fsync') AS f, current_setting('synchronous_commit') AS s").first)
        #expect(try row.decode(String.self, "f") == "off")
        #expect(try row.decode(String.self, "s") == "off")
    }

    @Test func stopEndsOpenSessions() throws {
        let cluster = try LocalCluster.start()
        let connection = try Connection(cluster.connectionString())
        cluster.stop()
        let error = try #require(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(error.isConnectionError)
    }

    @Test func connectionStringQuotesValues() throws {
        let cluster = try LocalCluster.start()
        defer { cluster.stop() }
        let conninfo = cluster.connectionString(database: "it's")
        #expect(conninfo == "host='\(cluster.socketDirectory)' port=5432 user=postgres dbname='it\\'s'")
    }
}
