import Foundation
import Postgres
import Testing

@testable import BackOffice

@Suite("Dossier details: dossier show")
struct DossierDetailsTests {
    @Test func aValidatedDossierShowsItsPartsDecisionHistoryAndRights() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let details = try administration.dossierDetails("VLF-0001")

        #expect(details.externalID == "VLF-0001")
        #expect(details.state == .planningOpen)
        #expect(details.version == 1)
        #expect(details.structure == "villefranche")
        #expect(details.account.lastName == "Martin")
        #expect(details.children.map(\.firstName) == ["Zoé", "Noé"])
        #expect(details.children.map(\.number) == [1, 2])
        #expect(details.children[0].services == ["cantine", "mercredi"])
        #expect(details.children[1].services == nil)
        #expect(details.children[0].birthDate == "2018-03-14")
        #expect(details.children[0].age == 8) // on the story's day, 2026-12-03, whatever day the tests run
        #expect(details.children[0].notes == "Allergie à l'arachide")
        let claire = try #require(details.guardians.first)
        #expect(claire.payer && claire.emergencyContact)
        #expect(claire.address == "12 rue des Écoles, 69400 Villefranche-sur-Saône")
        #expect(details.trustedPersons.map(\.lastName) == ["Dubois"])
        #expect(
            details.expectedDocuments.map { "\($0.kind) \($0.required) \($0.present) \($0.label)" } == [
                "assurance-scolaire true 1 Attestation d'assurance scolaire",
                "quotient-familial false 0 Attestation CAF (quotient familial)",
            ])
        #expect(details.missingDocuments.isEmpty)
        #expect(details.freeDocuments.isEmpty)
        #expect(details.currentFindings.isEmpty)
        #expect(details.decisions.map(\.outcome) == [.validated])
        #expect(details.decisions.first?.decidedBy == "worker:test:1")
        #expect(
            details.events.map { "\($0.from?.rawValue ?? "-")>\($0.to)" }
                == ["->submitted", "submitted>planning_open"])
        #expect(details.events.map(\.actor) == ["import", "worker:test:1"])
        #expect(
            details.rights.map { "\($0.childNumber) \($0.service)" }
                == ["1 cantine", "1 mercredi", "2 cantine", "2 garderie-matin", "2 mercredi"])
        #expect(details.rights.allSatisfy { $0.period == "2026-2027" && $0.reservations == 0 })
        #expect(details.queue.isEmpty)
    }

    @Test func aReturnedDossierShowsWhyAndWhatTheRulesSayNow() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        try Fixture.park("VLF-0002", error: "poisoned", on: connection)

        let details = try administration.dossierDetails("VLF-0002")
        #expect(details.state == .returned)
        #expect(details.decisions.map(\.findings) == [["payer.missing"]])
        #expect(details.currentFindings.map(\.code) == ["payer.missing"])
        #expect(details.events.last?.reason == "payer.missing")
        #expect(details.guardians.first?.payer == false)
        #expect(details.guardians.first?.address == nil)
        #expect(details.rights.isEmpty)
        #expect(details.queue.count == 1)
        #expect(details.queue.first?.attempts == 5)
        #expect(details.queue.first?.lastError == "poisoned")
        #expect(details.queue.first?.failedAt != nil)

        let empty = try administration.dossierDetails("VLF-0003")
        #expect(empty.children.isEmpty)
        #expect(empty.currentFindings.map(\.code).contains("children.none"))
        #expect(empty.missingDocuments.map(\.kind) == ["assurance-scolaire"])
    }

    @Test func freeDocumentsAndTheInternalIdAreShown() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        let id = try #require(try connection.scalar("SELECT id FROM dossiers WHERE external_id = 'PTL-0001'", as: Int64.self))

        let details = try administration.dossierDetails(String(id))
        #expect(details.externalID == "PTL-0001")
        #expect(details.state == .awaitingReview)
        #expect(details.freeDocuments.map(\.kind) == ["free"])
        #expect(details.expectedDocuments.map { "\($0.kind) \($0.required) \($0.present)" } == ["carnet-vaccination true 1"])
        #expect(details.currentFindings.isEmpty)
        #expect(details.decisions.map(\.outcome) == [.awaitingReview])
    }

    @Test func anUnknownDossierIsNotFound() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let error = #expect(throws: BackOfficeError.self) { try administration.dossierDetails("VLF-9999") }
        #expect(error?.code == .notFound)
        #expect(error?.message == "no dossier VLF-9999")
        #expect(throws: BackOfficeError.self) { try administration.dossierDetails("999999") }
    }

    @Test func theDetailsSurviveAJSONRoundTrip() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let details = try administration.dossierDetails("VLF-0001")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(details)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let back = try decoder.decode(DossierDetails.self, from: data)
        #expect(back.externalID == details.externalID)
        #expect(back.children == details.children)
        #expect(back.rights.count == details.rights.count)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["state"] as? String == "planning_open")
        #expect((object["children"] as? [[String: Any]])?.first?["firstName"] as? String == "Zoé")
    }
}
