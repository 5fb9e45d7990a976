import Dossiers
import Postgres
import Testing

@testable import BackOffice

/// Every QueueReportStore method against the migrated schema, on the decided examples:
/// VLF-0001 planning_open, VLF-0002 and VLF-0003 returned, PTL-0001 awaiting review, four emails.
@Suite("QueueReportStore")
struct QueueReportStoreTests {
    @Test func entriesByStateFailedAndQueued() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = QueueReportStore(connection: connection)
        let awaiting = try store.entries(.init(states: [.awaitingReview], failed: false, queued: false))
        #expect(awaiting.map(\.externalID) == ["PTL-0001"])
        #expect(awaiting.first?.state == DossierState.awaitingReview)
        try Fixture.park("VLF-0002", on: connection)
        let failed = try store.entries(.init(states: [], failed: true, queued: false))
        #expect(failed.map(\.externalID) == ["VLF-0002"])
        #expect(failed.first?.jobs == ["process"])
        #expect(try store.entries(.init(structure: "saint-amour", states: [.returned], failed: true, queued: true)).isEmpty)
    }

    @Test func backlogsPerStructure() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try Fixture.park("VLF-0002", on: connection)
        let backlogs = try QueueReportStore(connection: connection).backlogs(structure: nil)
        #expect(backlogs.map(\.structure) == ["saint-amour", "villefranche"])
        #expect(backlogs.map(\.failed) == [0, 1])
        #expect(backlogs.map(\.waiting) == [0, 0])
        #expect(backlogs.map(\.outboxPending).reduce(0, +) == 4)
    }

    @Test func dossiersByStateAreTyped() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let counts = try QueueReportStore(connection: connection).dossiersByState(structure: "villefranche")
        let byState = Dictionary(uniqueKeysWithValues: counts.map { ($0.state, $0.count) })
        #expect(byState == [.planningOpen: 1, .returned: 2])
    }

    @Test func decisionsLastHourAreTyped() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.decide(
            "PTL-0001", .reject, reason: "test", by: "alice", outbox: try EmailOutbox(directory: Fixture.templates))
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let counts = try QueueReportStore(connection: connection).decisionsLastHour(structure: "saint-amour")
        #expect(counts.first { $0.outcome == .rejected }?.count == 1)
        #expect(counts.allSatisfy { $0.structure == "saint-amour" })
    }

    @Test func emailsByDelivery() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let counts = try QueueReportStore(connection: connection).emailsByDelivery(structure: nil)
        #expect(Set(counts.map(\.delivery)) == [.pending])
        #expect(counts.map(\.count).reduce(0, +) == 4)
        #expect(counts.allSatisfy { $0.oldestUnsentSeconds >= 0 })
    }

    @Test func queuedCountAndRetryParked() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = QueueReportStore(connection: connection)
        let id = try #require(try store.dossierID("VLF-0002"))
        #expect(try store.queuedCount(dossierID: id) == 0)
        try Fixture.park("VLF-0002", on: connection)
        #expect(try store.queuedCount(dossierID: id) == 1)
        #expect(try store.retryParked(dossierID: nil, structure: "saint-amour").isEmpty)
        #expect(try store.retryParked(dossierID: id, structure: nil) == ["VLF-0002"])
        #expect(try store.retryParked(dossierID: id, structure: nil).isEmpty)
        #expect(try connection.scalar("SELECT attempts FROM dossier_queue WHERE dossier_id = $1", [id], as: Int.self) == 0)
    }

    @Test func dossierIDByExternalOrInternalID() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = QueueReportStore(connection: connection)
        let id = try #require(try store.dossierID("PTL-0001"))
        #expect(try store.dossierID(String(id)) == id)
        #expect(try store.dossierID("NOPE-1") == nil)
    }

    @Test func dossierLinesWithTheirLastDecision() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = QueueReportStore(connection: connection)
        let lines = Dictionary(uniqueKeysWithValues: try store.dossierLines(structure: nil).map { ($0.externalID, $0) })
        #expect(lines.keys.sorted() == ["PTL-0001", "VLF-0001", "VLF-0002", "VLF-0003"])
        #expect(lines["VLF-0001"]?.state == DossierState.planningOpen)
        #expect(lines["VLF-0001"]?.rightsOpened == 5)
        #expect(lines["VLF-0001"]?.children == 2)
        #expect(lines["VLF-0001"]?.decidedBy == "worker:test:1")
        #expect(lines["VLF-0002"]?.findings.isEmpty == false)
        #expect(try store.dossierLines(structure: "saint-amour").map(\.externalID) == ["PTL-0001"])
    }
}
