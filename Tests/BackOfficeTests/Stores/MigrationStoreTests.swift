import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

/// Every MigrationStore method, on an empty database.
@Suite("MigrationStore")
struct MigrationStoreTests {
    private let key: Int64 = 0x7465_7374_6d69_67

    @Test func theLockWaitsForItsHolder() throws {
        let conninfo = try TestDatabases.shared().create()
        let first = try Connection(conninfo)
        let second = try Connection(conninfo)
        defer {
            first.close()
            second.close()
        }
        try MigrationStore(connection: first).lock(key)
        #expect(try second.scalar("SELECT pg_try_advisory_lock($1)", [key], as: Bool.self) == false)
        try MigrationStore(connection: first).unlock(key)
        #expect(try second.scalar("SELECT pg_try_advisory_lock($1)", [key], as: Bool.self) == true)
    }

    @Test func historyApplyAndRecorded() throws {
        let connection = try Connection(try TestDatabases.shared().create())
        defer { connection.close() }
        let store = MigrationStore(connection: connection)
        let one = Migration(version: 1, name: "one", sql: "CREATE TABLE one (id int)")
        let two = Migration(version: 2, name: "two", sql: "CREATE TABLE two (id int)")
        #expect(try store.recorded(comparedWith: [one]).isEmpty)
        try store.createHistory()
        try store.createHistory()
        #expect(try store.recorded(comparedWith: [one]).isEmpty)
        try connection.transaction { connection in
            try MigrationStore(connection: connection).apply(one)
            try MigrationStore(connection: connection).apply(two)
        }
        let edited = Migration(version: 2, name: "two", sql: "CREATE TABLE two (id bigint)")
        let recorded = try store.recorded(comparedWith: [one, edited])
        #expect(recorded.keys.sorted() == [1, 2])
        #expect(recorded[1]?.matches == true)
        #expect(recorded[1]?.name == "one")
        #expect(recorded[2]?.matches == false)
        #expect(try store.recorded(comparedWith: [one])[2]?.matches == false)
        #expect(try connection.scalar("SELECT to_regclass('one') IS NOT NULL", as: Bool.self) == true)
    }
}
