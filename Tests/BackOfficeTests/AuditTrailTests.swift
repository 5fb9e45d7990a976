import BackOffice
import Foundation
import Postgres
import Testing

@Suite("The tamper-evident audit trail")
struct AuditTrailTests {
    private func decidedExamples() throws -> (String, Administration, Connection) {
        let conninfo = try Fixture.decidedExamples()
        return (conninfo, try Fixture.administration(conninfo), try Fixture.connection(conninfo))
    }

    /// What someone with the owner's rights could do by hand: switch the guard off and edit.
    private func behindTheProductsBack(_ connection: Connection, _ sql: String) throws {
        try connection.execute(
            script: """
                ALTER TABLE dossier_events DISABLE TRIGGER dossier_events_append_only;
                \(sql);
                ALTER TABLE dossier_events ENABLE TRIGGER dossier_events_append_only;
                """)
    }

    @Test func anUntouchedHistoryVerifies() throws {
        let (_, administration, owner) = try decidedExamples()
        defer { administration.close() }
        let report = try administration.verifyAudit()
        #expect(report.breaks.isEmpty)
        #expect(report.dossiers == 4)
        #expect(report.events == 9)  // 4 submissions, 4 decisions, VLF-0001's planning opening
        #expect(try owner.scalar("SELECT count(*) FROM dossier_events WHERE previous_hash IS NULL", as: Int.self) == 4)
    }

    @Test(arguments: [
        ("UPDATE dossier_events SET actor = 'admin:mallory' WHERE id = (SELECT min(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002')",
         "an event was changed"),
        ("DELETE FROM dossier_events WHERE id = (SELECT min(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002')",
         "an event was removed or reordered"),
        ("DELETE FROM dossier_events WHERE id = (SELECT max(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002')",
         "the history ends in submitted but the dossier is returned"),
    ])
    func anAlteredHistoryIsNamed(tampering: String, reason: String) throws {
        let (_, administration, owner) = try decidedExamples()
        defer { administration.close() }
        try behindTheProductsBack(owner, tampering)
        let report = try administration.verifyAudit()
        #expect(report.breaks.map(\.dossier) == ["VLF-0002"])
        #expect(report.breaks.first?.reason == reason)
        #expect(try administration.verifyAudit(structure: "saint-amour").breaks.isEmpty)
    }
}
