import BackOffice
import Foundation
import Postgres
import Testing

@Suite("Reservations: add and remove through the reservation gate")
struct ReservationsTests {
    private func reservations(_ connection: Connection) throws -> [String] {
        try connection.query(
            """
            SELECT c.first_name || ' ' || s.code || ' ' || r.day::text AS line
            FROM reservations r JOIN children c ON c.id = r.child_id JOIN services s ON s.id = r.service_id
            ORDER BY r.day, s.code, c.first_name
            """
        ).map { try $0.decode(String.self, "line") }
    }

    @Test func addingIsIdempotentAndRemovingFreesTheDay() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)

        let added = try administration.addReservations(
            child: "VLF-0001/1", service: "cantine", dates: ["2026-12-04", "2026-12-03", "2026-12-03"])
        #expect(added.changed == ["2026-12-03", "2026-12-04"])
        #expect(added.unchanged.isEmpty)
        #expect(added.child == "Zoé")
        let again = try administration.addReservations(
            child: "VLF-0001/1", service: "cantine", dates: ["2026-12-03", "2026-12-07"])
        #expect(again.changed == ["2026-12-07"])
        #expect(again.unchanged == ["2026-12-03"])
        #expect(try reservations(connection) == ["Zoé cantine 2026-12-03", "Zoé cantine 2026-12-04", "Zoé cantine 2026-12-07"])
        #expect(try connection.scalar("SELECT DISTINCT created_by FROM reservations", as: String.self) == "admin:test")

        let removed = try administration.removeReservations(child: "VLF-0001/1", service: "cantine", dates: ["2026-12-04"])
        #expect(removed.changed == ["2026-12-04"])
        #expect(try reservations(connection) == ["Zoé cantine 2026-12-03", "Zoé cantine 2026-12-07"])
    }

    @Test func removingADayThatIsNotReservedSaysSoAndRemovesNothing() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        _ = try administration.addReservations(child: "VLF-0001/2", service: "mercredi", dates: ["2026-12-09"])

        let error = #expect(throws: BackOfficeError.self) {
            try administration.removeReservations(child: "VLF-0001/2", service: "mercredi", dates: ["2026-12-09", "2026-12-16"])
        }
        #expect(error?.code == .refused)
        #expect(error?.message == "no reservation of mercredi for child VLF-0001/2 on 2026-12-16; nothing removed")
        #expect(try reservations(connection) == ["Noé mercredi 2026-12-09"])
    }

    /// Each of the gate's reasons, in the database's words, and nothing written.
    @Test(arguments: [
        ("VLF-0001/1", "garderie-matin", "2026-12-03", "the child has no reservation rights for this service and period"),
        ("VLF-0001/1", "cantine", "2026-12-25", "2026-12-25 is a closed date of the period 2026-2027"),
        ("VLF-0001/1", "cantine", "2026-12-02", "the service does not run on 2026-12-02 (a Wednesday)"),
        ("VLF-0002/1", "cantine", "2026-12-03", "the child's dossier is returned, not validated"),
        ("VLF-0001/2", "cantine", "2027-08-02", "2027-08-02 is in no period of villefranche"),
    ])
    func theGateRefusesWithItsReason(child: String, service: String, day: String, reason: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        // A good day alongside: all or none.
        let error = #expect(throws: BackOfficeError.self) {
            try administration.addReservations(child: child, service: service, dates: ["2026-12-10", day])
        }
        #expect(error?.code == .refused)
        #expect(error?.message.hasSuffix(reason) == true, "\(error?.message ?? "no error")")
        #expect(try reservations(connection).isEmpty)
    }

    @Test func theGateRefusesADayOutsideTheRightsPeriod() throws {
        // The commands find the period from the day; a hand-written INSERT can still name another.
        let conninfo = try Fixture.decidedExamples()
        let connection = try Fixture.connection(conninfo)
        let error = #expect(throws: PostgresError.self) {
            try connection.query(
                """
                INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
                SELECT r.child_id, r.service_id, r.period_id, '2027-08-02', 'admin:test'
                FROM reservation_rights r JOIN services s ON s.id = r.service_id WHERE s.code = 'cantine' LIMIT 1
                """)
        }
        #expect(error?.sqlState == "ETK04")
        #expect(error?.message == "2027-08-02 is outside the period 2026-2027 (2026-09-01 to 2027-07-03)")
    }

    @Test func unknownChildrenServicesAndBadDatesAreNamed() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let service = #expect(throws: BackOfficeError.self) {
            try administration.addReservations(child: "VLF-0001/1", service: "piscine", dates: ["2026-12-03"])
        }
        #expect(service?.message == "villefranche has no service piscine")
        let child = #expect(throws: BackOfficeError.self) {
            try administration.addReservations(child: "NOPE/1", service: "cantine", dates: ["2026-12-03"])
        }
        #expect(child?.code == .notFound)
        let date = #expect(throws: BackOfficeError.self) {
            try administration.addReservations(child: "VLF-0001/1", service: "cantine", dates: ["2026-12-3"])
        }
        #expect(date?.code == .badInput)
        #expect(date?.message == "not a date (YYYY-MM-DD): 2026-12-3")
    }
}
