import BackOffice
import Foundation
import Postgres
import Testing

@Suite("Retention: purging returned dossiers' personal data")
struct RetentionTests {
    @Test func aPurgeEmptiesOldReturnedDossiersAndRecordsIt() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let owner = try Fixture.connection(conninfo)
        let tomorrow = Date().addingTimeInterval(86_400)

        // Within the retention period (365 days by default) nothing goes.
        #expect(try administration.purge(returnedBefore: tomorrow, dryRun: false).isEmpty)

        try administration.setRetention(structure: "villefranche", days: 0)
        let dryRun = try administration.purge(returnedBefore: tomorrow, dryRun: true)
        #expect(dryRun.map(\.dossier) == ["VLF-0002", "VLF-0003"])
        #expect(try owner.scalar("SELECT count(*) FROM purges", as: Int.self) == 0)
        // Before the return date given, nothing.
        #expect(try administration.purge(returnedBefore: Date().addingTimeInterval(-86_400), dryRun: false).isEmpty)

        let purged = try administration.purge(returnedBefore: tomorrow, dryRun: false)
        #expect(purged.map(\.dossier) == ["VLF-0002", "VLF-0003"])
        let gone = """
            SELECT (SELECT count(*) FROM children c WHERE c.dossier_id = d.id)
                 + (SELECT count(*) FROM guardians g WHERE g.dossier_id = d.id)
                 + (SELECT count(*) FROM documents x WHERE x.dossier_id = d.id)
                 + (SELECT count(*) FROM email_outbox o WHERE o.dossier_id = d.id)
            FROM dossiers d WHERE d.external_id = $1
            """
        #expect(try owner.scalar(gone, ["VLF-0002"], as: Int.self) == 0)
        #expect(try owner.scalar("SELECT content::text FROM dossiers WHERE external_id = 'VLF-0002'", as: String.self) == "{}")
        #expect(try owner.scalar("SELECT count(*) FROM accounts WHERE last_name = 'Nguyễn'", as: Int.self) == 0)
        #expect(try owner.scalar("SELECT count(*) FROM purges", as: Int.self) == 2)
        #expect(
            try owner.scalar(
                "SELECT count(*) FROM decisions x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = 'VLF-0002'",
                as: Int.self) == 1)
        // The validated family keeps everything; a second purge finds nothing more.
        #expect(try owner.scalar(gone, ["VLF-0001"], as: Int.self) ?? 0 > 0)
        #expect(try administration.purge(returnedBefore: tomorrow, dryRun: false).isEmpty)
        #expect(try administration.verifyAudit().breaks.isEmpty)
    }

    @Test func retentionIsValidated() throws {
        let administration = try Fixture.administration(try Fixture.exampleStructuresDatabase())
        defer { administration.close() }
        #expect(throws: BackOfficeError.self) { try administration.setRetention(structure: "villefranche", days: -1) }
        #expect(throws: BackOfficeError.self) { try administration.setRetention(structure: "nowhere", days: 30) }
    }
}
