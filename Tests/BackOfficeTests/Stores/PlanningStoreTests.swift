import Dossiers
import Postgres
import Testing

@testable import BackOffice

/// Every PlanningStore method against the migrated schema, on the decided examples.
@Suite("PlanningStore")
struct PlanningStoreTests {
    @Test func childByPositionAndByID() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = PlanningStore(connection: connection)
        let noe = try #require(try store.child(.position(dossier: "VLF-0001", index: 1)))
        #expect(noe.firstName == "Noé")
        #expect(noe.dossier == "VLF-0001")
        #expect(noe.structure == "villefranche")
        #expect(try store.child(.id(String(noe.id))) == noe)
        #expect(try store.child(.id("0\(noe.id)")) == nil)
        #expect(try store.child(.position(dossier: "VLF-0001", index: 9)) == nil)
    }

    @Test func periodsOverlappingAMonth() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = PlanningStore(connection: connection)
        let zoe = try #require(try store.child(.position(dossier: "VLF-0001", index: 0)))
        let november = try store.periods(
            structureID: zoe.structureID, overlapping: CalendarDate(iso: "2026-11-01")!, CalendarDate(iso: "2026-11-30")!)
        #expect(november.map(\.code) == ["2026-2027"])
        #expect(november.first?.closed.contains(CalendarDate(iso: "2026-11-11")!) == true)
        #expect(
            try store.periods(
                structureID: zoe.structureID, overlapping: CalendarDate(iso: "2026-08-01")!, CalendarDate(iso: "2026-08-31")!
            ).isEmpty)
    }

    @Test func childServicesWithRightsAndReservations() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.addReservations(child: "VLF-0001/1", service: "cantine", dates: ["2026-12-01"])
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let store = PlanningStore(connection: connection)
        let zoe = try #require(try store.child(.position(dossier: "VLF-0001", index: 0)))
        let services = try store.childServices(
            .init(
                childID: zoe.id, dossierID: zoe.dossierID, structureID: zoe.structureID, first: CalendarDate(iso: "2026-12-01")!,
                last: CalendarDate(iso: "2026-12-31")!))
        #expect(services.map(\.code) == ["cantine", "garderie-matin", "mercredi"])
        #expect(services.map { $0.rightPeriodIDs.count } == [1, 0, 1])
        #expect(services.first?.reserved == [CalendarDate(iso: "2026-12-01")!])
        #expect(services.first?.weekdays == [1, 2, 4, 5])
    }
}
