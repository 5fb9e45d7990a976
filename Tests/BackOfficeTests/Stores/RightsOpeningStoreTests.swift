import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Every RightsOpeningStore method against the migrated schema, on the decided examples.
@Suite("RightsOpeningStore")
struct RightsOpeningStoreTests {
    @Test func theTargetOfAnOpeningByCodes() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try connection.query("SELECT set_config('eticket.actor', 'admin:test', false)")
        let store = RightsOpeningStore(connection: connection)

        let target = try #require(try store.target(structure: "villefranche", period: "2026-2027", service: "cantine"))
        #expect(target.timeZone == "Europe/Paris")
        #expect(target.periodID != nil && target.periodLabel == "Année scolaire 2026-2027")
        #expect(target.serviceID != nil && target.serviceLabel == "Restauration scolaire")
        #expect(target.actor == "admin:test")
        let eligible: [Int64] = try connection.query(
            """
            SELECT d.id FROM dossiers d JOIN structures s ON s.id = d.structure_id
            WHERE s.code = 'villefranche' AND d.state IN ('validated', 'planning_open') ORDER BY d.id
            """
        ).map { try $0.decode("id") }
        #expect(!eligible.isEmpty && target.eligibleDossiers == eligible)

        let wholePeriod = try #require(try store.target(structure: "villefranche", period: "2026-2027", service: nil))
        #expect(wholePeriod.serviceID == nil && wholePeriod.periodID == target.periodID)
        let unknownParts = try #require(try store.target(structure: "villefranche", period: "1999", service: "piscine"))
        #expect(unknownParts.periodID == nil && unknownParts.serviceID == nil)
        #expect(try store.target(structure: "nowhere", period: "2026-2027", service: nil) == nil)
    }

    @Test func openingNowCancelsTheQueuedOpeningsOfThosePeriodAndDossiersOnly() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try connection.query("SELECT set_config('eticket.actor', 'admin:test', false)")
        let target = try #require(
            try RightsOpeningStore(connection: connection).target(structure: "villefranche", period: "2026-2027", service: nil))
        let period = try #require(target.periodID)
        let (cancelled, kept) = (Array(target.eligibleDossiers.prefix(1)), Array(target.eligibleDossiers.dropFirst()))
        try connection.transaction { connection in
            _ = try DecisionStore(connection: connection).scheduleRights(
                target.eligibleDossiers, period: period, at: Date(timeIntervalSince1970: 4_102_444_800))
            try RightsOpeningStore(connection: connection).cancelQueuedOpenings(period: period, dossiers: cancelled)
        }
        let queued: [Int64] = try connection.query(
            "SELECT dossier_id FROM dossier_queue WHERE job = 'open_rights' AND period_id = $1 ORDER BY dossier_id", [period]
        ).map { try $0.decode("dossier_id") }
        #expect(queued == kept)
    }

    @Test func aStructuresTimeZone() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = RightsOpeningStore(connection: connection)
        #expect(try store.timeZone(ofStructure: "villefranche") == "Europe/Paris")
        #expect(try store.timeZone(ofStructure: "nowhere") == nil)
    }
}
