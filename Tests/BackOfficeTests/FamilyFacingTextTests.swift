import BackOffice
import Foundation
import Mail
import Postgres
import Testing

/// What a family reads names things as the structure names them, and addresses the family by the
/// names of the dossier the email is about.
@Suite("Family-facing text: labels and greetings")
struct FamilyFacingTextTests {
    /// VLF-0001 (complete, Claire Martin) changed by `edits` of its JSON text.
    private func exampleLine(_ edits: [(String, String)]) throws -> String {
        var line = try #require(try Fixture.exampleLines()["VLF-0001"])
        for (old, new) in edits {
            #expect(line.contains(old), "the example line no longer holds \(old)")
            line = line.replacingOccurrences(of: old, with: new)
        }
        return line
    }

    /// The structures of the examples, `lines` imported, the worker drained with the templates.
    private func decided(_ lines: [String]) throws -> Connection {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.importDossiers(file: try Fixture.file(lines))
        try #require(report.rejected.isEmpty, "\(report.rejected.map(\.reasons))")
        _ = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: try EmailOutbox(directory: Fixture.templates),
            logger: Fixture.logger
        ).drain()
        return try Fixture.connection(conninfo)
    }

    private func processedEmailText(_ externalID: String, _ connection: Connection) throws -> String {
        let message = try #require(
            try RenderedOutbox.message(
                """
                SELECT o.id FROM email_outbox o JOIN dossiers d ON d.id = o.dossier_id
                WHERE d.external_id = $1 AND o.kind = 'dossier-processed'
                """, [externalID], on: connection))
        return try ComposedMessageParts(reading: message).text
    }

    private static let withoutDocuments =
        #""documents": [{"kind": "assurance-scolaire", "filename": "assurance-2026.pdf", "media_type": "application/pdf", "size": 182734, "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]"#

    @Test(arguments: [
        ("fr", "Justificatif manquant : Attestation d'assurance scolaire."),
        ("en", "Missing supporting document: Attestation d'assurance scolaire."),
    ])
    func aReturnedEmailNamesTheMissingDocumentByItsLabel(locale: String, expected: String) throws {
        let line = try exampleLine([
            (Self.withoutDocuments, #""documents": []"#), (#""locale": "fr""#, #""locale": "\#(locale)""#),
        ])
        let connection = try decided([line])
        let text = try processedEmailText("VLF-0001", connection)
        #expect(text.contains(expected), "\(text)")
        #expect(!text.contains("assurance-scolaire"))
        // The decision records the same words, for `dossier show` and a later preview.
        let findings = try #require(
            try connection.scalar("SELECT findings::text FROM decisions", as: String.self))
        #expect(findings.contains("Attestation d'assurance scolaire"))
    }

    @Test func eachDossierOfOneAccountGreetsWithItsOwnNames() throws {
        let first = try exampleLine([])
        // The same account (its email) submits a second dossier under other names; importing it
        // after the first rewrites the account row.
        let second = try exampleLine([
            (#""external_id": "VLF-0001""#, #""external_id": "VLF-0101""#),
            (#""first_name": "Claire", "last_name": "Martin", "terms"#, #""first_name": "Karim", "last_name": "Benali", "terms"#),
        ])
        let connection = try decided([first, second])
        #expect(
            try connection.scalar("SELECT count(*) FROM accounts", as: Int.self) == 1,
            "both dossiers belong to one account")
        let firstText = try processedEmailText("VLF-0001", connection)
        let secondText = try processedEmailText("VLF-0101", connection)
        #expect(firstText.contains("Bonjour Claire Martin,"), "\(firstText)")
        #expect(firstText.contains("(famille Martin)"))
        #expect(secondText.contains("Bonjour Karim Benali,"), "\(secondText)")
        #expect(secondText.contains("(famille Benali)"))
    }
}
