import Postgres
import Testing

@testable import BackOffice

/// Every AuditStore method against the migrated schema, on the decided examples.
@Suite("AuditStore")
struct AuditStoreTests {
    @Test func countsPerStructure() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = AuditStore(connection: connection)
        let all = try store.counts(structure: nil)
        let villefranche = try store.counts(structure: "villefranche")
        #expect(all.dossiers == 4)
        #expect(villefranche.dossiers == 3)
        #expect(all.events > villefranche.events)
        #expect(try store.counts(structure: "nowhere") == (0, 0))
    }

    @Test func breaksNameAnAlteredHistory() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = AuditStore(connection: connection)
        #expect(try store.breaks(structure: nil).isEmpty)
        // The owner can bypass the append-only trigger; the chain still tells.
        try connection.execute(
            script: """
                ALTER TABLE dossier_events DISABLE TRIGGER dossier_events_append_only;
                UPDATE dossier_events SET actor = 'someone:else'
                WHERE id = (SELECT min(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002');
                ALTER TABLE dossier_events ENABLE TRIGGER dossier_events_append_only;
                """)
        let breaks = try store.breaks(structure: nil)
        #expect(breaks.map(\.dossier) == ["VLF-0002"])
        #expect(breaks.first?.reason == "an event was changed")
        #expect(try store.breaks(structure: "saint-amour").isEmpty)
    }

    @Test func headsAllAndUpToAnchors() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let store = AuditStore(connection: connection)
        let heads = try connection.transaction { connection in
            let store = AuditStore(connection: connection)
            try store.waitForEventWriters()
            return try store.heads(upTo: nil)
        }
        #expect(heads.map(\.structure) == ["saint-amour", "villefranche"])
        #expect(heads.allSatisfy { $0.digest.count == 64 })
        #expect(try store.heads(upTo: heads) == heads)
        #expect(try store.heads(upTo: []).isEmpty)
    }
}
