import Foundation
import Postgres
import TestSupport
import Testing

/// `eticket audit anchor` and `audit verify --anchor`, as the operator runs them.
@Suite("eticket audit anchor", .tags(.e2e))
struct AuditAnchorCommandTests {
    private func decidedExamples() throws -> String {
        let conninfo = try TestDatabases.shared().create()
        for arguments in [
            ["db", "migrate"], ["structures", "apply", "\(CLI.examples)/structures.json"],
            ["dossiers", "import", "\(CLI.examples)/dossiers.jsonl"], ["worker", "--once"],
        ] {
            try CLI.succeed(arguments, database: conninfo)
        }
        return conninfo
    }

    private func workDirectory() throws -> URL {
        let directory = TestFiles.directory.appendingPathComponent("eticket-anchor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func aChainRewrittenByTheOwnerFailsTheAnchoredVerification() throws {
        let conninfo = try decidedExamples()
        let anchor = try workDirectory().appendingPathComponent("anchor").path
        try CLI.succeed(["audit", "anchor", "--to", anchor], database: conninfo)
        let mode = try FileManager.default.attributesOfItem(atPath: anchor)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let printed = try CLI.succeed(["audit", "anchor"], database: conninfo).stdout
        #expect(
            printed.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ")[0] } == [
                "saint-amour", "villefranche",
            ])
        try CLI.succeed(["audit", "verify", "--anchor", anchor], database: conninfo)

        // The owner rewrites VLF-0002's whole chain, hashes included: it verifies on its own...
        let owner = try Connection(conninfo)
        defer { owner.close() }
        try owner.execute(
            script: """
                ALTER TABLE dossier_events DISABLE TRIGGER dossier_events_append_only;
                DO $$
                DECLARE
                    event dossier_events;
                    previous text;
                BEGIN
                    FOR event IN SELECT * FROM dossier_events
                                 WHERE dossier_id = (SELECT id FROM dossiers WHERE external_id = 'VLF-0002') ORDER BY id LOOP
                        event.reason := coalesce(event.reason, '') || ' (rewritten)';
                        event.previous_hash := previous;
                        previous := dossier_event_digest(event);
                        UPDATE dossier_events SET reason = event.reason, previous_hash = event.previous_hash, hash = previous
                        WHERE id = event.id;
                    END LOOP;
                END
                $$;
                ALTER TABLE dossier_events ENABLE TRIGGER dossier_events_append_only;
                """)
        try CLI.succeed(["audit", "verify"], database: conninfo)
        // ...but no longer extends the anchor.
        let anchored = try CLI.run(["audit", "verify", "--anchor", anchor, "--database-url", conninfo])
        #expect(anchored.status == 1)
        #expect(anchored.stdout.contains("villefranche"))
        #expect(!anchored.stdout.contains("saint-amour "))
        #expect(anchored.stderr.contains("the chains of 1 structure no longer extend the anchor"))
    }

    @Test func theAnchorIsNeverWrittenThroughALink() throws {
        let conninfo = try decidedExamples()
        let directory = try workDirectory()
        let victim = directory.appendingPathComponent("victim").path
        try Data("precious\n".utf8).write(to: URL(fileURLWithPath: victim))
        let link = directory.appendingPathComponent("anchor").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        let result = try CLI.run(["audit", "anchor", "--to", link, "--database-url", conninfo])
        #expect(result.status == 1)
        #expect(result.stderr.contains("is a symbolic link"))
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
    }

    @Test func aMalformedAnchorFileIsBadInputWithItsLine() throws {
        let conninfo = try decidedExamples()
        let anchor = try workDirectory().appendingPathComponent("anchor")
        try Data("# taken by hand\nvillefranche 12 9 not-a-digest\n".utf8).write(to: anchor)
        let result = try CLI.run(["audit", "verify", "--anchor", anchor.path, "--database-url", conninfo])
        #expect(result.status == 3)
        #expect(result.stderr.contains("\(anchor.path):2: the digest is not 64 lowercase hexadecimal digits"))
        #expect(result.stderr.contains("STRUCTURE LAST_EVENT_ID EVENTS SHA256"))
    }
}
