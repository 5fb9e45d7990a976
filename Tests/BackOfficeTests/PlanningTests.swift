import Foundation
import Postgres
import Testing

@testable import BackOffice

@Suite("Planning: a child's month")
struct PlanningTests {
    @Test func aMonthShowsReservationsClosedDaysAndDaysWithoutRights() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.addReservations(child: "VLF-0001/1", service: "cantine", dates: ["2026-12-24", "2026-12-01"])
        _ = try administration.addReservations(child: "VLF-0001/1", service: "mercredi", dates: ["2026-12-02"])

        // Zoé, December 2026: 1 December is a Tuesday; the 25th (a Friday) is closed.
        let planning = try administration.planning(child: "VLF-0001/1", month: "2026-12")
        #expect(planning.child == "Zoé")
        #expect(planning.dossier == "VLF-0001")
        #expect(planning.firstWeekday == 2)
        #expect(planning.services.map(\.code) == ["cantine", "garderie-matin", "mercredi"])
        #expect(planning.services.map(\.rightsPeriods) == [["2026-2027"], [], ["2026-2027"]])
        #expect(planning.services.allSatisfy { $0.days.count == 31 })
        #expect(planning.day(1, of: "cantine") == .reserved)
        #expect(planning.day(24, of: "cantine") == .reserved)
        #expect(planning.day(3, of: "cantine") == .open) // a Thursday
        #expect(planning.day(2, of: "cantine") == .notRunning) // a Wednesday
        #expect(planning.day(5, of: "cantine") == .notRunning) // a Saturday
        #expect(planning.day(25, of: "cantine") == .closed)
        #expect(planning.day(2, of: "mercredi") == .reserved)
        #expect(planning.day(9, of: "mercredi") == .open)
        #expect(planning.day(3, of: "mercredi") == .notRunning)
        #expect(planning.day(3, of: "garderie-matin") == .noRights) // Zoé asked for cantine and mercredi only
        #expect(planning.day(25, of: "garderie-matin") == .closed)
        #expect(planning.day(25, of: "mercredi") == .notRunning) // closed, but a Friday: not a mercredi day anyway
        #expect(planning.day(32, of: "cantine") == nil)
        #expect(planning.services[0].days.filter { $0 == .reserved }.count == 2)
    }

    @Test func aClosedWednesdayAndTheEdgesOfThePeriod() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let november = try administration.planning(child: "VLF-0001/2", month: "2026-11")
        #expect(november.child == "Noé")
        #expect(november.firstWeekday == 7)
        #expect(november.services.map(\.rightsPeriods) == [["2026-2027"], ["2026-2027"], ["2026-2027"]])
        #expect(november.day(11, of: "mercredi") == .closed)
        #expect(november.day(11, of: "cantine") == .notRunning)
        #expect(november.day(18, of: "mercredi") == .open)
        #expect(november.day(12, of: "garderie-matin") == .open)
        #expect(november.services.first?.days.count == 30)

        let july = try administration.planning(child: "VLF-0001/2", month: "2027-07")
        #expect(july.day(2, of: "cantine") == .open) // the period's last Friday
        #expect(july.day(3, of: "cantine") == .notRunning) // its last day, a Saturday
        #expect(july.day(5, of: "cantine") == .outsidePeriod)
        let august = try administration.planning(child: "VLF-0001/2", month: "2026-08")
        #expect(august.services.allSatisfy { $0.days.allSatisfy { $0 == .outsidePeriod } && $0.rightsPeriods.isEmpty })
    }

    @Test func aChildWithoutRightsHasNoOpenDay() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let lea = try administration.planning(child: "VLF-0002/1", month: "2026-12")
        #expect(lea.services.allSatisfy { !$0.days.contains(.open) && !$0.days.contains(.reserved) })
        #expect(lea.day(3, of: "cantine") == .noRights)
    }

    @Test func childrenAreNamedByIdOrByDossierAndPosition() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        let id = try #require(
            try connection.scalar(
                "SELECT c.id FROM children c JOIN dossiers d ON d.id = c.dossier_id WHERE d.external_id = 'VLF-0001' AND c.position = 1",
                as: Int64.self))
        let byID = try administration.planning(child: String(id), month: "2026-12")
        #expect(byID == (try administration.planning(child: "VLF-0001/2", month: "2026-12")))
        #expect(byID.childID == id)

        let third = #expect(throws: BackOfficeError.self) { try administration.planning(child: "VLF-0001/3", month: "2026-12") }
        #expect(third?.code == .notFound)
        #expect(third?.message == "no child VLF-0001/3")
        let zero = #expect(throws: BackOfficeError.self) { try administration.planning(child: "VLF-0001/0", month: "2026-12") }
        #expect(zero?.code == .badInput)
        let month = #expect(throws: BackOfficeError.self) { try administration.planning(child: "VLF-0001/1", month: "2026-13") }
        #expect(month?.code == .badInput)
        #expect(month?.message == "2026-13: not a month; expected YYYY-MM")
    }
}
