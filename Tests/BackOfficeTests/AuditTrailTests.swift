import Foundation
import Postgres
import Testing

@testable import BackOffice

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
        #expect(report.events == 8) // 4 submissions, 4 decisions (VLF-0001's with its planning opening, 022)
        #expect(try owner.scalar("SELECT count(*) FROM dossier_events WHERE previous_hash IS NULL", as: Int.self) == 4)
    }

    @Test(arguments: [
        (
            "UPDATE dossier_events SET actor = 'admin:mallory' WHERE id = (SELECT min(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002')",
            "an event was changed"
        ),
        (
            "DELETE FROM dossier_events WHERE id = (SELECT min(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002')",
            "an event was removed or reordered"
        ),
        (
            "DELETE FROM dossier_events WHERE id = (SELECT max(e.id) FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id WHERE d.external_id = 'VLF-0002')",
            "the history ends in submitted but the dossier is returned"
        ),
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

    // MARK: - Anchors

    /// What the owner could do: rewrite a dossier's whole chain with fresh hashes, which verifies.
    private func rewriteWholeChain(of externalID: String, _ owner: Connection) throws {
        try behindTheProductsBack(
            owner,
            """
            DO $$
            DECLARE
                event dossier_events;
                previous text;
            BEGIN
                FOR event IN SELECT * FROM dossier_events
                             WHERE dossier_id = (SELECT id FROM dossiers WHERE external_id = '\(externalID)') ORDER BY id LOOP
                    IF previous IS NULL THEN
                        event.actor := 'import-rewritten';
                    END IF;
                    event.previous_hash := previous;
                    previous := dossier_event_digest(event);
                    UPDATE dossier_events SET actor = event.actor, previous_hash = event.previous_hash, hash = previous
                    WHERE id = event.id;
                END LOOP;
            END
            $$
            """)
    }

    @Test func aChainRewrittenWholeVerifiesButNoLongerExtendsItsAnchor() throws {
        let (_, administration, owner) = try decidedExamples()
        defer { administration.close() }
        let anchors = try administration.anchorAudit()
        #expect(anchors.map(\.structure) == ["saint-amour", "villefranche"])
        #expect(anchors.map(\.events).reduce(0, +) == 8)
        #expect(try administration.verifyAudit(anchors: anchors).verifies)

        try rewriteWholeChain(of: "VLF-0002", owner)
        #expect(try administration.verifyAudit().breaks.isEmpty) // the chain alone cannot tell
        let report = try administration.verifyAudit(anchors: anchors)
        #expect(report.anchorBreaks.map(\.structure) == ["villefranche"])
        #expect(report.anchorBreaks.first?.reason.contains("no longer end where they were anchored") == true)
        #expect(try administration.verifyAudit(structure: "saint-amour", anchors: anchors).verifies)
    }

    @Test func eventsWrittenAfterTheAnchorExtendIt() throws {
        let (_, administration, _) = try decidedExamples()
        defer { administration.close() }
        let text = AuditAnchor.text(of: try administration.anchorAudit(), takenAt: Date())
        let anchors = try AuditAnchor.parse(text, file: "anchor")
        let outbox = try EmailOutbox(directory: Fixture.templates)
        _ = try administration.decide("PTL-0001", .approve, reason: nil, by: "Marie Curie", outbox: outbox)
        #expect(try administration.verifyAudit().events == 9)
        #expect(try administration.verifyAudit(anchors: anchors).verifies)
    }

    @Test(arguments: [
        ("villefranche 12 9", "anchor:2: 3 fields where 4 are expected"),
        ("Ville 12 9 \(String(repeating: "a", count: 64))", "anchor:2: the structure code is not a code"),
        (
            "villefranche twelve 9 \(String(repeating: "a", count: 64))",
            "anchor:2: LAST_EVENT_ID twelve is not a positive whole number"
        ),
        ("villefranche 12 -9 \(String(repeating: "a", count: 64))", "anchor:2: EVENTS -9 is not a positive whole number"),
        ("villefranche 12 9 \(String(repeating: "A", count: 64))", "anchor:2: the digest is not 64 lowercase hexadecimal digits"),
        ("", "anchor: no anchor in the file"),
    ])
    func aMalformedAnchorFileIsRefusedWithItsLine(line: String, message: String) throws {
        let error = try #require(throws: BackOfficeError.self) { try AuditAnchor.parse("# comment\n\(line)\n", file: "anchor") }
        #expect(error.message.hasPrefix(message), "\(error.message)")
        #expect(error.message.contains(AuditAnchor.lineForm))
        #expect(error.code == .badInput)
    }
}
