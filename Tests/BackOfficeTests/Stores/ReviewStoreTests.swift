import Dossiers
import Postgres
import Testing

@testable import BackOffice

/// Every ReviewStore method against the migrated schema, on the decided examples.
@Suite("ReviewStore")
struct ReviewStoreTests {
    @Test func lockDossierReadsItsStateAsAnEnum() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try connection.transaction { connection throws in
            let store = ReviewStore(connection: connection)
            let locked = try #require(try store.lockDossier(externalID: "PTL-0001"))
            #expect(locked.state == .awaitingReview)
            #expect(locked.externalID == "PTL-0001")
            #expect(locked.structure == "saint-amour")
            #expect(try store.lockDossier(externalID: "NOPE-1") == nil)
        }
    }

    /// The lock is real: another session cannot take the dossier until the verdict commits.
    @Test func aLockedDossierIsNotAnotherSessionsToTake() throws {
        let conninfo = try Fixture.decidedExamples()
        let first = try Fixture.connection(conninfo)
        let second = try Fixture.connection(conninfo)
        defer {
            first.close()
            second.close()
        }
        try first.transaction { first throws in
            _ = try ReviewStore(connection: first).lockDossier(externalID: "PTL-0001")
            let error = try #require(throws: PostgresError.self) {
                try second.query("SELECT id FROM dossiers WHERE external_id = 'PTL-0001' FOR UPDATE NOWAIT")
            }
            #expect(error.sqlState == "55P03")
        }
        _ = try second.query("SELECT id FROM dossiers WHERE external_id = 'PTL-0001' FOR UPDATE NOWAIT")
    }

    @Test func lockAwaitingReviewByStructure() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try connection.transaction { connection throws in
            let store = ReviewStore(connection: connection)
            #expect(try store.lockAwaitingReview(structure: "saint-amour")?.count == 1)
            #expect(try store.lockAwaitingReview(structure: "villefranche") == [])
            #expect(try store.lockAwaitingReview(structure: "nowhere") == nil)
        }
    }

    @Test func eventContextLastsForTheTransaction() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        try connection.transaction { connection throws in
            let store = ReviewStore(connection: connection)
            try store.setEventContext(actor: "admin:alice", reason: "missing document")
            #expect(try connection.scalar("SELECT current_setting('eticket.reason')", as: String.self) == "missing document")
            #expect(try connection.scalar("SELECT current_setting('eticket.actor')", as: String.self) == "admin:alice")
            try store.clearEventReason()
            #expect(try connection.scalar("SELECT current_setting('eticket.reason')", as: String.self) == "")
        }
        #expect(try connection.scalar("SELECT current_setting('eticket.actor')", as: String.self) == "admin:test")
    }

    @Test func removeRightsCountsRightsReservationsAndOpenings() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.addReservations(child: "VLF-0001/1", service: "cantine", dates: ["2026-12-03", "2026-12-04"])
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let id = try #require(try connection.scalar("SELECT id FROM dossiers WHERE external_id = 'VLF-0001'", as: Int64.self))
        let removed = try ReviewStore(connection: connection).removeRights([id])
        #expect(removed == .init(rights: 5, reservations: 2, queued: 0))
        #expect(try ReviewStore(connection: connection).removeRights([id]) == .init(rights: 0, reservations: 0, queued: 0))
    }
}
