import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

@Suite("Outbox export")
struct OutboxExporterTests {
    /// The examples decided: four emails pending.
    private func decidedExamples() throws -> (String, Administration) {
        let conninfo = try Fixture.decidedExamples()
        return (conninfo, try Fixture.administration(conninfo))
    }

    private func temporaryPath(_ name: String) -> String {
        TestFiles.directory.appendingPathComponent("export-\(UUID().uuidString)/\(name)").path
    }

    @Test func jsonlCarriesEachMessageOnceAndARerunAddsNothing() throws {
        let (conninfo, administration) = try decidedExamples()
        defer { administration.close() }
        let path = temporaryPath("outbox.jsonl")
        #expect(try administration.outbox.export(to: path, format: .jsonl).exported == 4)
        #expect(try administration.outbox.export(to: path, format: .jsonl).exported == 0)

        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        for key in ["from", "to", "subject", "text", "html", "headers", "message_id"] {
            #expect(objects.allSatisfy { $0[key] != nil }, "every object has \(key)")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let connection = try Fixture.connection(conninfo)
        #expect(try connection.scalar("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL", as: Int.self) == 0)
    }

    /// The export analyses an outbox whose backlog the planner underestimates before its first
    /// read (036), so that the batches are read in id order, not the whole backlog sorted for each.
    @Test func theExportLeavesThePlannerStatisticsOfTheOutbox() throws {
        let (conninfo, administration) = try decidedExamples()
        defer { administration.close() }
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        try connection.execute(script: "UPDATE pg_class SET reltuples = -1 WHERE oid = 'email_outbox'::regclass")
        #expect(
            try administration.outbox.export(to: temporaryPath("maildir"), format: .maildir, batchSize: 1).exported == 4)
        let estimate = "SELECT reltuples::bigint FROM pg_class WHERE oid = 'email_outbox'::regclass"
        #expect(try connection.scalar(estimate, as: Int.self) == 4)
    }

    /// The refresh is an optimisation: a login that may not call it (a role of the operator's own)
    /// still exports everything.
    @Test func aRoleThatMayNotRefreshTheStatisticsStillExports() throws {
        let conninfo = try Fixture.decidedExamples()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        try owner.execute(script: "REVOKE EXECUTE ON FUNCTION refresh_outbox_statistics(integer) FROM eticket_batch")
        let role = try AuditTruthTests.login("eticket_batch", on: conninfo)
        let administration = try Fixture.administration("\(conninfo) user=\(role)")
        defer { administration.close() }
        #expect(
            try administration.outbox.export(to: temporaryPath("maildir"), format: .maildir, batchSize: 1).exported == 4)
    }

    @Test func limitStructureAndAgainSelectWhatIsExported() throws {
        let (_, administration) = try decidedExamples()
        defer { administration.close() }
        let directory = temporaryPath("maildir")
        let started = Date().addingTimeInterval(-1)
        #expect(
            try administration.outbox.export(to: directory, format: .maildir, selection: .init(structure: "saint-amour")).exported
                == 0)
        #expect(try administration.outbox.export(to: directory, format: .maildir, selection: .init(limit: 3)).exported == 3)
        #expect(try administration.outbox.export(to: directory, format: .maildir).exported == 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/new")
        #expect(files.count == 4)

        let again = temporaryPath("again.mbox")
        #expect(try administration.outbox.export(to: again, format: .mbox, selection: .init(againSince: started)).exported == 4)
        let mbox = try String(contentsOfFile: again, encoding: .utf8)
        #expect(mbox.components(separatedBy: "\nFrom ").count + (mbox.hasPrefix("From ") ? 0 : -1) == 4)
    }

    @Test func listAndShowGiveTheStoredMessage() throws {
        let (_, administration) = try decidedExamples()
        defer { administration.close() }
        let entries = try administration.outbox.list()
        #expect(entries.count == 4)
        #expect(entries.filter { $0.kind == "planning-open" }.map(\.dossier) == ["VLF-0001"])
        let bytes = try administration.outbox.message(id: try #require(entries.first).id)
        #expect(String(decoding: bytes, as: UTF8.self).contains("MIME-Version: 1.0\r\n"))
        #expect(throws: BackOfficeError.self) { try administration.outbox.message(id: 999_999) }
    }

    @Test func filesHoldTheStoredBytesAndJSONLTheStoredFields() throws {
        let (_, administration) = try decidedExamples()
        defer { administration.close() }
        let entries = try administration.outbox.list()
        let maildir = temporaryPath("maildir")
        let eml = temporaryPath("eml")
        let jsonl = temporaryPath("outbox.jsonl")
        #expect(try administration.outbox.export(to: maildir, format: .maildir).exported == 4)
        let since = try #require(entries.map(\.createdAt).min()).addingTimeInterval(-1)
        #expect(try administration.outbox.export(to: eml, format: .eml, selection: .init(againSince: since)).exported == 4)
        #expect(try administration.outbox.export(to: jsonl, format: .jsonl, selection: .init(againSince: since)).exported == 4)
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        /// The contents of the files in `directory`.
        func contents(_ directory: String) throws -> Set<[UInt8]> {
            Set(
                try FileManager.default.contentsOfDirectory(atPath: directory).map {
                    Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0)")))
                })
        }
        let stored = Set(try entries.map { try administration.outbox.message(id: $0.id) })
        #expect(try contents("\(maildir)/new") == stored)
        #expect(try contents(eml) == stored)
        for entry in entries {
            let name = String(entry.id)
            let object = try #require(objects.first { $0["id"] as? String == name })
            #expect(object["subject"] as? String == entry.subject)
            #expect(object["to"] as? String == entry.recipient)
            #expect((object["headers"] as? [Any])?.isEmpty == false)
        }
    }

    @Test func smallBatchesLeaveRowsAnotherExporterHoldsToIt() throws {
        let (conninfo, administration) = try decidedExamples()
        defer { administration.close() }
        // Another exporter holds the second pending row.
        let other = try Fixture.connection(conninfo)
        let held = try #require(
            try other.scalar("SELECT id FROM email_outbox WHERE exported_at IS NULL ORDER BY id OFFSET 1 LIMIT 1", as: Int64.self)
        )
        try other.execute(script: "BEGIN")
        try other.query("SELECT id FROM email_outbox WHERE id = $1 FOR UPDATE", [held])
        let directory = temporaryPath("maildir")
        for batchSize in [1, 2] {
            #expect(
                try administration.outbox.export(to: directory, format: .maildir, batchSize: batchSize).exported
                    == (batchSize == 1 ? 3 : 0))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/new").count == 3)
        let heldMessage = try administration.outbox.message(id: held)
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(directory)/new") {
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/new/\(name)"))) != heldMessage)
        }
        try other.execute(script: "ROLLBACK")
        #expect(try administration.outbox.export(to: directory, format: .maildir, batchSize: 3).exported == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/new").count == 4)
        #expect(try other.scalar("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL", as: Int.self) == 0)
    }
}
