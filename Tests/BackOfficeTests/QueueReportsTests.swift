import Foundation
import Postgres
import Testing

@testable import BackOffice

@Suite("Queue reports: list, stats, retry")
struct QueueReportsTests {
    @Test func theDefaultListIsWhatWaitsForSomeone() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        // Decided and drained: only the dossier under manual review waits.
        let waiting = try administration.queueEntries()
        #expect(waiting.map(\.externalID) == ["PTL-0001"])
        #expect(waiting.first?.state == .awaitingReview)
        #expect(waiting.first?.family == "O'Connor")
        #expect(waiting.first?.children == ["Aoife"])

        try Fixture.park("VLF-0002", error: "poisoned", on: try Fixture.connection(conninfo))
        let withFailed = try administration.queueEntries()
        #expect(withFailed.map(\.externalID) == ["VLF-0002", "PTL-0001"]) // oldest submission first
        let failed = try #require(withFailed.first)
        #expect(failed.failed)
        #expect(failed.attempts == 5)
        #expect(failed.lastError == "poisoned")
        #expect(failed.jobs == ["process"])
        #expect(failed.family == "Nguyễn")
        #expect(failed.ageSeconds > 90 * 86_400) // submitted 2026-08-22
    }

    @Test func statesFailedAndQueuedFilterAndCombine() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        try Fixture.park("VLF-0002", on: connection)
        try connection.query(
            "INSERT INTO dossier_queue (dossier_id) SELECT id FROM dossiers WHERE external_id = 'VLF-0003'")

        #expect(try administration.queueEntries(filters: [.state(.returned)]).map(\.externalID) == ["VLF-0002", "VLF-0003"])
        #expect(try administration.queueEntries(filters: [.failed]).map(\.externalID) == ["VLF-0002"])
        #expect(try administration.queueEntries(filters: [.queued]).map(\.externalID) == ["VLF-0003"])
        #expect(
            try administration.queueEntries(filters: [.queued, .state(.planningOpen)]).map(\.externalID) == [
                "VLF-0001", "VLF-0003",
            ])
        #expect(try administration.queueEntries(filters: [.state(.returned)], structure: "saint-amour").isEmpty)
        #expect(QueueFilter("failed") == .failed && QueueFilter("awaiting_review") == .state(.awaitingReview))
        #expect(QueueFilter("sleeping") == nil)
        let vlf3 = try #require(try administration.queueEntries(filters: [.queued]).first)
        #expect(vlf3.children.isEmpty)
        #expect(!vlf3.failed)
        #expect(vlf3.attempts == 0)
    }

    @Test func olderThanKeepsOnlyOldSubmissions() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        let all: Set<QueueFilter> = [.state(.planningOpen), .state(.returned), .state(.awaitingReview)]
        #expect(try administration.queueEntries(filters: all).count == 4)
        // Ages count from the submission; move VLF-0003's back to 3 days ago (a returned dossier may change).
        try connection.query(
            "UPDATE dossiers SET submitted_at = now() - interval '3 days' WHERE external_id = 'VLF-0003'")
        try connection.query(
            "UPDATE dossiers SET submitted_at = now() - interval '1 day' WHERE external_id = 'VLF-0002'")
        let older = try administration.queueEntries(filters: [.state(.returned)], olderThan: 2 * 86_400)
        #expect(older.map(\.externalID) == ["VLF-0003"])
        let age = try #require(older.first?.ageSeconds)
        #expect((3 * 86_400 - 5)...(3 * 86_400 + 60) ~= age)
    }

    @Test func retryPutsAParkedItemBackAndKeepsItsError() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        try Fixture.park("VLF-0002", error: "poisoned", on: connection)

        #expect(try administration.retryFailed(dossier: "VLF-0002").dossiers == ["VLF-0002"])
        let row = try #require(
            try connection.query(
                """
                SELECT q.attempts, q.last_error, q.failed_at IS NULL AS unparked, q.run_at <= now() AS due
                FROM dossier_queue q JOIN dossiers d ON d.id = q.dossier_id WHERE d.external_id = 'VLF-0002'
                """
            ).first)
        #expect(try row.decode(Int.self, "attempts") == 0)
        #expect(try row.decode(String.self, "last_error") == "poisoned")
        #expect(try row.decode(Bool.self, "unparked"))
        #expect(try row.decode(Bool.self, "due"))

        // Not failed any more: a second retry says so.
        let again = #expect(throws: BackOfficeError.self) { try administration.retryFailed(dossier: "VLF-0002") }
        #expect(again?.code == .refused)
        #expect(again?.message == "dossier VLF-0002 has no failed queue item to retry (it is queued and waiting for a worker)")
        let idle = #expect(throws: BackOfficeError.self) { try administration.retryFailed(dossier: "VLF-0001") }
        #expect(idle?.message.contains("it is not queued") == true)
        let unknown = #expect(throws: BackOfficeError.self) { try administration.retryFailed(dossier: "NOPE-1") }
        #expect(unknown?.code == .notFound)
        #expect(unknown?.message == "no dossier NOPE-1")
    }

    @Test func retryAllFailedHonoursTheStructure() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        for id in ["VLF-0002", "VLF-0003", "PTL-0001"] { try Fixture.park(id, on: connection) }

        #expect(try administration.retryAllFailed(structure: "saint-amour").dossiers == ["PTL-0001"])
        #expect(try administration.retryAllFailed().dossiers.sorted() == ["VLF-0002", "VLF-0003"])
        #expect(try administration.retryAllFailed().count == 0)
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue WHERE failed_at IS NOT NULL", as: Int.self) == 0)
        let unknown = #expect(throws: BackOfficeError.self) { try administration.retryAllFailed(structure: "atlantis") }
        #expect(unknown?.message == "no structure atlantis")
    }

    @Test func statsCountStatesDecisionsFailuresAndTheOutbox() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        try Fixture.park("VLF-0002", on: connection)
        try connection.query(
            """
            INSERT INTO dossier_queue (dossier_id, run_at)
            SELECT id, current_setting('eticket.clock')::timestamptz - interval '2 hours' FROM dossiers
            WHERE external_id = 'VLF-0003'
            """)

        let stats = try administration.queueStats()
        #expect(stats.map(\.structure) == ["saint-amour", "villefranche"])
        let villefranche = try #require(stats.last)
        #expect(villefranche.dossiers["planning_open"] == 1)
        #expect(villefranche.dossiers["returned"] == 2)
        #expect(villefranche.dossiers["submitted"] == 0)
        #expect(villefranche.dossiers.count == 7)
        #expect(villefranche.decisionsLastHour == ["validated": 1, "returned": 2, "awaiting_review": 0, "rejected": 0])
        #expect(villefranche.failed == 1)
        #expect(villefranche.waiting == 1)
        #expect((7_200...7_300).contains(villefranche.oldestWaitingSeconds))
        #expect(villefranche.outboxPending == 4) // VLF-0001 twice, VLF-0002, VLF-0003
        let saintAmour = try #require(stats.first)
        #expect(saintAmour.dossiers["awaiting_review"] == 1)
        #expect(saintAmour.decisionsLastHour["awaiting_review"] == 1)
        #expect(saintAmour.waiting == 0 && saintAmour.oldestWaitingSeconds == 0 && saintAmour.failed == 0)
        #expect(saintAmour.outboxPending == 0)
        #expect(try administration.queueStats(structure: "saint-amour") == [saintAmour])
    }
}
