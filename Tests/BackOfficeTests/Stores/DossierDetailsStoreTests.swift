import Dossiers
import Postgres
import Testing

@testable import BackOffice

/// Every DossierDetailsStore method against the migrated schema, on VLF-0001 of the decided
/// examples (planning open; Zoé and Noé; rights opened by the worker; two emails).
@Suite("DossierDetailsStore")
struct DossierDetailsStoreTests {
    private func vlf0001() throws -> (DossierDetailsStore, Int64, Connection) {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        let id = try #require(try connection.scalar("SELECT id FROM dossiers WHERE external_id = 'VLF-0001'", as: Int64.self))
        return (DossierDetailsStore(connection: connection), id, connection)
    }

    @Test func snapshotAndHeader() throws {
        let (store, id, connection) = try vlf0001()
        defer { connection.close() }
        try connection.transaction { _ in
            try store.beginSnapshot()
            let header = try #require(try store.header(dossierID: id))
            #expect(header.details.externalID == "VLF-0001")
            #expect(header.details.state == DossierState.planningOpen)
            #expect(header.details.structure == "villefranche")
            #expect(header.today == CalendarDate(iso: "2026-12-03"))
            #expect(try store.header(dossierID: -1) == nil)
        }
    }

    @Test func childrenWithTheirAges() throws {
        let (store, id, connection) = try vlf0001()
        defer { connection.close() }
        let children = try store.children(dossierID: id, today: CalendarDate(iso: "2026-12-03")!)
        #expect(children.map(\.firstName) == ["Zoé", "Noé"])
        #expect(children.map(\.number) == [1, 2])
        #expect(children.allSatisfy { $0.age > 0 })
    }

    @Test func guardiansTrustedPersonsAndDocuments() throws {
        let (store, id, connection) = try vlf0001()
        defer { connection.close() }
        #expect(try !store.guardians(dossierID: id).isEmpty)
        _ = try store.trustedPersons(dossierID: id)
        let expected = try store.expectedDocuments(dossierID: id)
        #expect(!expected.isEmpty)
        #expect(expected.first?.required == true)
        #expect(try store.documents(dossierID: id).count >= expected.filter(\.required).count)
    }

    @Test func decisionsAndEventsAreTypedLabels() throws {
        let (store, id, connection) = try vlf0001()
        defer { connection.close() }
        let decisions = try store.decisions(dossierID: id)
        #expect(decisions.map(\.outcome) == [.validated])
        #expect(decisions.first?.decidedBy == "worker:test:1")
        let events = try store.events(dossierID: id)
        #expect(events.first?.from == nil)
        #expect(events.last?.to == DossierState.planningOpen)
    }

    @Test func rightsQueueEmailsAndServiceLabels() throws {
        let (store, id, connection) = try vlf0001()
        defer { connection.close() }
        #expect(try store.rights(dossierID: id).count == 5)
        #expect(try store.queue(dossierID: id).isEmpty)
        let emails = try store.emails(dossierID: id)
        #expect(emails.count == 2)
        #expect(emails.allSatisfy { $0.delivery == EmailDelivery.pending })
        #expect(try store.serviceLabels(dossierID: id).keys.sorted() == ["cantine", "garderie-matin", "mercredi"])
    }
}
