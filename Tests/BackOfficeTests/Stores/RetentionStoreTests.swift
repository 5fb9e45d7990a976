import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Every RetentionStore method against the migrated schema, on the decided examples
/// (VLF-0002 and VLF-0003 returned).
@Suite("RetentionStore")
struct RetentionStoreTests {
    /// Far enough ahead that every return of the examples is before it, whatever the day.
    private let later = Date(timeIntervalSince1970: 4_102_444_800) // 2100-01-01

    @Test func setRetention() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = RetentionStore(connection: connection)
        #expect(try store.setRetention(structure: "villefranche", days: 12))
        #expect(try connection.scalar("SELECT retention_days FROM structures WHERE code = 'villefranche'", as: Int.self) == 12)
        #expect(try !store.setRetention(structure: "nowhere", days: 12))
    }

    @Test func candidatesArePastTheirRetention() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = RetentionStore(connection: connection)
        #expect(try store.lockPurgeCandidates(.init(returnedBefore: later)).isEmpty)
        _ = try store.setRetention(structure: "villefranche", days: 0)
        let candidates = try store.lockPurgeCandidates(.init(returnedBefore: later))
        #expect(candidates.map(\.dossier.dossier).sorted() == ["VLF-0002", "VLF-0003"])
        #expect(candidates.allSatisfy { $0.dossier.structure == "villefranche" && $0.dossier.timeZone == "Europe/Paris" })
        #expect(try store.lockPurgeCandidates(.init(returnedBefore: later, structure: "saint-amour")).isEmpty)
    }

    @Test func purgeEmptiesThePersonalDataAndRecordsIt() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = RetentionStore(connection: connection)
        _ = try store.setRetention(structure: "villefranche", days: 0)
        let candidates = try store.lockPurgeCandidates(.init(returnedBefore: later))
        try store.purge(candidates)
        #expect(try connection.scalar("SELECT count(*) FROM purges", as: Int.self) == 2)
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM children c JOIN dossiers d ON d.id = c.dossier_id WHERE d.external_id = 'VLF-0002'",
                as: Int.self) == 0)
        #expect(
            try connection.scalar("SELECT content::text FROM dossiers WHERE external_id = 'VLF-0003'", as: String.self) == "{}")
        #expect(try store.lockPurgeCandidates(.init(returnedBefore: later)).isEmpty)
    }
}
