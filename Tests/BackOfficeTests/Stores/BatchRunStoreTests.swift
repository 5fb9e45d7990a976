import Foundation
import Mail
import Postgres
import Testing

@testable import BackOffice

/// Every BatchRunStore method against the migrated schema, on the decided examples.
@Suite("BatchRunStore")
struct BatchRunStoreTests {
    @Test func theLockIsOneSessionsAndNamesItsHolder() throws {
        let conninfo = try Fixture.decidedExamples()
        let first = try Fixture.connection(conninfo)
        let second = try Fixture.connection(conninfo)
        defer {
            first.close()
            second.close()
        }
        let holder = BatchRunStore(connection: first)
        let other = BatchRunStore(connection: second)
        #expect(try holder.tryLock(BatchRun.lockKey))
        #expect(try !other.tryLock(BatchRun.lockKey))
        let pid = try first.scalar("SELECT pg_backend_pid()", as: Int.self)
        #expect(try other.lockHolder(BatchRun.lockKey) == pid)
        try holder.unlock(BatchRun.lockKey)
        #expect(try other.lockHolder(BatchRun.lockKey) == nil)
        #expect(try other.tryLock(BatchRun.lockKey))
    }

    @Test func databaseNowIsTheTransactionStart() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try connection.transaction { connection in
            let store = BatchRunStore(connection: connection)
            let first = try #require(try store.databaseNow())
            #expect(try store.databaseNow() == first)
        }
    }

    @Test func dueCountByTheDecisionClock() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = BatchRunStore(connection: connection)
        #expect(try store.dueCount() == 0)
        try connection.query(
            "INSERT INTO dossier_queue (dossier_id, run_at) SELECT id, '2026-12-01' FROM dossiers WHERE external_id = 'VLF-0002'")
        try connection.query(
            "INSERT INTO dossier_queue (dossier_id, run_at) SELECT id, '2027-06-01' FROM dossiers WHERE external_id = 'VLF-0003'")
        #expect(try store.dueCount() == 1)
        try Fixture.park("PTL-0001", on: connection)
        #expect(try store.dueCount() == 1)
    }

    @Test func emailsByKindSinceAnInstant() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = BatchRunStore(connection: connection)
        let emails = try store.emailsByKind(since: Date(timeIntervalSince1970: 0))
        #expect(emails.values.reduce(0, +) == 4)
        #expect(Set(emails.keys).isSubset(of: Set(EmailKind.allCases)))
        #expect(try store.emailsByKind(since: Date(timeIntervalSince1970: 4_102_444_800)).isEmpty)
    }
}
