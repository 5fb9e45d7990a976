import Foundation
import Logging
import Mail
import Postgres
import TestSupport
import Testing

@testable import BackOffice

/// Migration 029: an outbox row keeps its email's particulars and the template set it is rendered
/// with; the export and the sender render it, always to the same bytes, with that set whatever
/// the renderer's host has on disk; and no login can change or forge a set.
@Suite("Outbox rendering at delivery")
struct OutboxRenderingTests {
    @Test func aRowRendersToTheSameBytesEachTimeAndTheExportWritesThem() throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let ids = try connection.query("SELECT id FROM email_outbox ORDER BY id").map { try $0.decode(Int64.self, "id") }
        try #require(!ids.isEmpty)
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let path = TestFiles.directory.appendingPathComponent("rendered-\(UUID().uuidString)").path
        let report = try administration.outbox.export(to: path, format: .eml)
        #expect(report.exported == ids.count && report.unrenderable.isEmpty)
        var rendered: Set<[UInt8]> = []
        for id in ids {
            let first = try #require(try RenderedOutbox.message(id: id, on: connection))
            #expect(try RenderedOutbox.message(id: id, on: connection) == first, "email \(id) renders the same twice")
            #expect(try administration.outbox.message(id: id) == first, "outbox show \(id)")
            rendered.insert(first)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: path).map { name in
            Array(try #require(FileManager.default.contents(atPath: "\(path)/\(name)")))
        }
        #expect(Set(files) == rendered, "the exported files are the rendered rows")
    }

    /// An email decided with a structure's own templates is sent with them, even by a host whose
    /// configuration has only the defaults, and after the worker's templates changed again.
    @Test func anEmailIsRenderedWithTheTemplatesItWasDecidedWith() throws {
        let custom = TestFiles.directory.appendingPathComponent("templates-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: Fixture.templates, toPath: custom)
        for language in ["fr", "en"] {
            let file = "\(custom)/dossier-processed.\(language).xml"
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let marked = text.replacingOccurrences(of: "<subject>", with: "<subject>[029] ")
            #expect(marked != text)
            try marked.write(toFile: file, atomically: true, encoding: .utf8)
        }
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        _ = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: try EmailOutbox(directory: custom),
            logger: Logger(label: "test")
        ).drain()
        try FileManager.default.removeItem(atPath: custom)

        let processed = try administration.outbox.list().filter { $0.kind == "dossier-processed" }
        try #require(!processed.isEmpty)
        #expect(processed.allSatisfy { $0.subject.hasPrefix("[029] ") }, "\(processed.map(\.subject))")
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        #expect(try connection.scalar("SELECT count(*) FROM email_template_sets", as: Int.self) == 1)
        #expect(
            try connection.scalar(
                "SELECT bool_and(template_set = (SELECT sha256 FROM email_template_sets)) FROM email_outbox", as: Bool.self)
                == true)
    }

    @Test func noOneChangesOrRemovesATemplateSetNotEvenTheOwner() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        for statement in [
            "UPDATE email_template_sets SET files = convert_to('{}', 'UTF8')", "DELETE FROM email_template_sets",
            "TRUNCATE email_template_sets CASCADE",
        ] {
            let error = try connection.refusal(statement)
            #expect(error.sqlState == "ETK11", "\(statement): \(error)")
        }
        #expect(try connection.scalar("SELECT count(*) FROM email_template_sets", as: Int.self) == 1)
    }

    /// A worker's stolen login may store a set, but never under another content's digest, and an
    /// email may name only a stored set.
    @Test func aStolenLoginCannotNameASetForOtherContent() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try AuditTruthTests.login("eticket_worker", on: conninfo)
        let attacker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { attacker.close() }
        let stored = try #require(
            try attacker.scalar("SELECT encode(sha256, 'hex') FROM email_template_sets", as: String.self))
        let forged = try attacker.refusal(
            "INSERT INTO email_template_sets (sha256, files) VALUES (decode($1, 'hex'), convert_to('{}', 'UTF8'))", [stored])
        #expect(forged.sqlState == "42501" || forged.sqlState == "428C9", "\(forged)")
        for statement in ["UPDATE email_template_sets SET files = files", "DELETE FROM email_template_sets"] {
            #expect(try attacker.refusal(statement).sqlState == "42501", "\(statement)")
        }

        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        // An email taken out and written again naming a set that is not stored: refused.
        try owner.execute(script: "BEGIN")
        defer { try? owner.execute(script: "ROLLBACK") }
        try owner.query(
            "CREATE TEMPORARY TABLE taken AS SELECT * FROM email_outbox WHERE id = (SELECT min(id) FROM email_outbox)")
        try owner.query("DELETE FROM email_outbox WHERE id = (SELECT id FROM taken)")
        let unstored = try owner.refusal(
            """
            INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient,
                particulars, template_set)
            SELECT dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient, particulars,
                   sha256('not stored')
            FROM taken
            """)
        #expect(unstored.sqlState == "23503", "\(unstored)")
        #expect(unstored.message.contains("names a template set that is not stored"), "\(unstored.message)")
    }

    /// A set stored by hand whose paths leave the template directory is refused before a file is
    /// written: its emails are skipped by the export, and nothing lands outside.
    @Test func aStoredSetWithPathsOutsideItsDirectoryIsRefused() throws {
        for path in ["../escape.xml", "/tmp/escape.xml", "a/b/c.xml", ".hidden.xml", "VLF/../../x.xml", ""] {
            let archive = Array(#"{"\#(path)":"x"}"#.utf8)
            #expect(throws: TemplateError.self, "\(path)") { try TemplateFiles(archive: archive) }
        }
        let accepted = try TemplateFiles(archive: Array(#"{"email-template.xsd":"x","VLF-2/planning-open.fr.xml":"y"}"#.utf8))
        #expect(accepted.files.count == 2)

        let conninfo = try Fixture.decidedExamples()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        try owner.query("INSERT INTO email_template_sets (files) VALUES (convert_to('{\"../escape.xml\":\"x\"}', 'UTF8'))")
        try owner.query(
            """
            UPDATE email_outbox SET template_set = sha256(convert_to('{"../escape.xml":"x"}', 'UTF8'))
            WHERE id = (SELECT min(id) FROM email_outbox)
            """)
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.outbox.export(
            to: TestFiles.directory.appendingPathComponent("escape-\(UUID().uuidString)").path, format: .maildir)
        #expect(report.unrenderable.count == 1)
        #expect(!FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "escape.xml"))
    }
}
