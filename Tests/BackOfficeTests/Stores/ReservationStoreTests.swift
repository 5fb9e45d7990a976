import Postgres
import Testing

@testable import BackOffice

/// Every ReservationStore method against the migrated schema, on the decided examples.
@Suite("ReservationStore")
struct ReservationStoreTests {
    private func zoe(_ connection: Connection) throws -> ChildReference {
        try #require(try PlanningStore(connection: connection).child(.position(dossier: "VLF-0001", index: 0)))
    }

    @Test func serviceByCode() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = ReservationStore(connection: connection)
        let structureID = try zoe(connection).structureID
        #expect(try store.service(code: "cantine", structureID: structureID)?.label.isEmpty == false)
        #expect(try store.service(code: "piscine", structureID: structureID) == nil)
    }

    @Test func daysOutsidePeriods() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let outside = try ReservationStore(connection: connection).daysOutsidePeriods(
            ["2026-08-31", "2026-12-03", "2026-08-01"], structureID: try zoe(connection).structureID)
        #expect(outside == ["2026-08-01", "2026-08-31"])
    }

    @Test func addReturnsOnlyTheDaysReservedNow() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = ReservationStore(connection: connection)
        let child = try zoe(connection)
        let cantine = try #require(try store.service(code: "cantine", structureID: child.structureID))
        let params = ReservationStore.ReservationParams(
            childID: child.id, serviceID: cantine.id, structureID: child.structureID, days: ["2026-12-04", "2026-12-03"])
        #expect(try store.add(params) == ["2026-12-03", "2026-12-04"])
        #expect(try store.add(params).isEmpty)
    }

    @Test func removeReturnsTheDaysFreed() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = ReservationStore(connection: connection)
        let child = try zoe(connection)
        let cantine = try #require(try store.service(code: "cantine", structureID: child.structureID))
        var params = ReservationStore.ReservationParams(
            childID: child.id, serviceID: cantine.id, structureID: child.structureID, days: ["2026-12-03"])
        _ = try store.add(params)
        params.days = ["2026-12-03", "2026-12-04"]
        #expect(try store.remove(params) == ["2026-12-03"])
        #expect(try store.remove(params).isEmpty)
    }
}
