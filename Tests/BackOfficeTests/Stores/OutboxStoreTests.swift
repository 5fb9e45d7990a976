import Foundation
import Mail
import Postgres
import Testing

@testable import BackOffice

/// Every OutboxStore method against the migrated schema, on the decided examples' four pending
/// emails (VLF-0001 two, VLF-0002 and VLF-0003 one each; PTL-0001 none yet).
@Suite("OutboxStore")
struct OutboxStoreTests {
    private func store() throws -> (OutboxStore, Connection) {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        return (OutboxStore(connection: connection), connection)
    }

    @Test func fenceCommitsAWALRecord() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let before = try #require(try connection.scalar("SELECT pg_current_wal_insert_lsn()::text", as: String.self))
        try store.fence()
        #expect(try connection.scalar("SELECT pg_current_wal_insert_lsn() > $1::pg_lsn", [before], as: Bool.self) == true)
    }

    /// 036: the outbox is analysed when its pending rows are more than a batch and more than twice
    /// what the planner believes, and then not again. (Four pending here: batches of one.)
    @Test func refreshStatisticsAnalysesOnlyABacklogThePlannerUnderestimates() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let estimate = "SELECT reltuples::bigint FROM pg_class WHERE oid = 'email_outbox'::regclass"
        try connection.execute(script: "ANALYZE email_outbox")
        #expect(try store.refreshStatistics(batchSize: 1) == false, "the planner knows the four pending")
        // As after a burst of emails that autovacuum has not analysed yet (the superuser's catalog).
        try connection.execute(script: "UPDATE pg_class SET reltuples = -1 WHERE oid = 'email_outbox'::regclass")
        #expect(try store.refreshStatistics(batchSize: 4) == false, "one batch reads them once, whatever the plan")
        #expect(try store.refreshStatistics(batchSize: 1) == true)
        #expect(try connection.scalar(estimate, as: Int.self) == 4)
        #expect(try store.refreshStatistics(batchSize: 1) == false)
        // Exported, then four new ones: the last analysis saw none pending.
        try connection.execute(script: "UPDATE email_outbox SET exported_at = now(); ANALYZE email_outbox")
        try connection.execute(script: "UPDATE email_outbox SET exported_at = NULL")
        #expect(try store.refreshStatistics(batchSize: 1) == true)
    }

    /// Best effort: with the table's ANALYZE lock held elsewhere (autovacuum, a VACUUM), the refresh
    /// gives up at once rather than keep the export waiting.
    @Test func refreshStatisticsDoesNotWaitForAnotherSessionsLock() throws {
        let conninfo = try Fixture.decidedExamples()
        let holder = try Fixture.connection(conninfo)
        let connection = try Fixture.connection(conninfo)
        defer {
            holder.close()
            connection.close()
        }
        try connection.execute(script: "UPDATE pg_class SET reltuples = -1 WHERE oid = 'email_outbox'::regclass")
        try holder.execute(script: "BEGIN; LOCK TABLE email_outbox IN SHARE UPDATE EXCLUSIVE MODE")
        // A regression waits for the lock: the timeout turns that into an error, not a hang.
        try connection.execute(script: "SET lock_timeout = '10s'")
        #expect(try OutboxStore(connection: connection).refreshStatistics(batchSize: 1) == false)
        try holder.execute(script: "ROLLBACK")
        #expect(try OutboxStore(connection: connection).refreshStatistics(batchSize: 1) == true)
    }

    /// The roles that export may refresh the statistics (the owner's ANALYZE); the others may not.
    @Test(arguments: [("eticket_batch", true), ("eticket_admin", true), ("eticket_worker", false), ("eticket_intake", false)])
    func onlyTheExportingRolesRefreshTheStatistics(group: String, allowed: Bool) throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try AuditTruthTests.login(group, on: conninfo, administering: group == "eticket_admin" ? "villefranche" : nil)
        let connection = try Fixture.connection("\(conninfo) user=\(role)")
        defer { connection.close() }
        do {
            _ = try OutboxStore(connection: connection).refreshStatistics(batchSize: 1)
            #expect(allowed, "\(group) refreshed the outbox's statistics")
        } catch let error as PostgresError {
            #expect(!allowed && error.sqlState == "42501", "\(group): \(error)")
        }
    }

    @Test func countBySelection() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        #expect(try store.count(.init()) == 4)
        #expect(try store.count(.init(structure: "saint-amour")) == 0)
        #expect(try store.count(.init(againSince: Date(timeIntervalSince1970: 0))) == 0)
    }

    @Test func readReadsRowsReadyToRenderInIdOrder() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let all = try store.read(.init(), after: 0, limit: 10)
        #expect(all.count == 4)
        #expect(all.map(\.id) == all.map(\.id).sorted())
        #expect(all.allSatisfy { !$0.messageID.isEmpty && $0.structure.code == "villefranche" })
        for email in all {
            guard case .particulars(_, let templateSet?) = email.content else {
                Issue.record("email \(email.id) is not kept as its particulars and template set")
                continue
            }
            #expect(try store.templateSet(templateSet) != nil)
            switch email.kind {
            case .dossierProcessed: #expect(email.decision != nil && email.period == nil)
            case .planningOpen: #expect(email.period != nil && email.decision == nil)
            }
        }
        #expect(try store.read(.init(), after: all[1].id, limit: 1).map(\.id) == [all[2].id])
        #expect(try store.templateSet([0, 1, 2]) == nil)
    }

    @Test func lockSkipsRowsAnotherTransactionHolds() throws {
        let conninfo = try Fixture.decidedExamples()
        let first = try Fixture.connection(conninfo)
        let second = try Fixture.connection(conninfo)
        defer {
            first.close()
            second.close()
        }
        let ids = try OutboxStore(connection: first).read(.init(), after: 0, limit: 10).map(\.id)
        try first.transaction { first throws in
            #expect(try OutboxStore(connection: first).lock(Array(ids.prefix(1)), .init()) == [ids[0]])
            #expect(try OutboxStore(connection: second).lock(ids, .init()) == Set(ids.dropFirst()))
        }
    }

    @Test func markExportedTakesRowsOutOfTheSelection() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let ids = try store.read(.init(), after: 0, limit: 2).map(\.id)
        try store.markExported(ids)
        #expect(try store.count(.init()) == 2)
        #expect(try store.count(.init(againSince: Date(timeIntervalSince1970: 0))) == 2)
    }

    @Test func listNewestFirstWithTypedDelivery() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let entries = try store.list(.init())
        #expect(entries.count == 4)
        #expect(entries.map(\.entry.id) == entries.map(\.entry.id).sorted(by: >))
        #expect(entries.allSatisfy { $0.entry.delivery == EmailDelivery.pending && $0.entry.exportedAt == nil })
        #expect(entries.allSatisfy { $0.entry.id == $0.email.id && $0.entry.dossier.hasPrefix("VLF-") })
        #expect(try store.list(.init(structure: "villefranche", limit: 1)).count == 1)
        try store.markExported(entries.map(\.entry.id))
        #expect(try store.list(.init(pendingOnly: true)).isEmpty)
    }

    @Test func oneEmailById() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let first = try #require(try store.read(.init(), after: 0, limit: 1).first)
        #expect(try store.email(id: first.id)?.messageID == first.messageID)
        #expect(try store.email(id: -1) == nil)
    }

    @Test func dueCountAndClaimAfterTheCursor() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        #expect(try store.dueCount(structure: nil) == 4)
        #expect(try store.dueCount(structure: "saint-amour") == 0)
        try connection.transaction { connection throws in
            let store = OutboxStore(connection: connection)
            let first = try #require(try store.claimDue(.init()))
            #expect(first.attempts == 0)
            #expect(first.email.recipient.contains("@"))
            let next = try #require(try store.claimDue(.init(after: first.id)))
            #expect(next.id > first.id)
            #expect(try store.claimDue(.init(structure: "saint-amour"))?.id == nil)
        }
    }

    @Test func sentDeferredAndFailedLeaveTheDueSet() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let ids = try store.read(.init(), after: 0, limit: 3).map(\.id)
        try store.markSent(.init(id: ids[0], reply: "250 ok", attempts: 1))
        try store.markDeferred(.init(id: ids[1], reply: "451 later", attempts: 1), retryIn: .seconds(600))
        try store.markFailed(.init(id: ids[2], reply: "550 no", attempts: 1))
        #expect(try store.dueCount(structure: nil) == 1)
        let deliveries = try connection.query(
            "SELECT delivery::text AS d FROM email_outbox WHERE id = ANY($1::bigint[]) ORDER BY id", [ids]
        ).map { try $0.decode(String.self, "d") }
        #expect(deliveries == ["sent", "deferred", "failed"])
        #expect(
            try connection.scalar("SELECT next_attempt_at IS NOT NULL FROM email_outbox WHERE id = $1", [ids[1]], as: Bool.self)
                == true)
    }
}
