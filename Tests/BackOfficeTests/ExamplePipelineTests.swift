import BackOffice
import Foundation
import Postgres
import Testing

@Suite("The example data through the whole pipeline")
struct ExamplePipelineTests {
    @Test func examplesAreDecidedAsTheRulesSay() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        #expect(report.created == 4)
        #expect(report.rejected.isEmpty)

        let summary = try WorkerRunner(
            conninfo: conninfo, configuration: WorkerConfiguration(), outbox: nil, logger: Fixture.logger
        ).drain()
        #expect(summary.claimed == 4)

        let lines = Dictionary(uniqueKeysWithValues: try administration.dossiers().map { ($0.externalID, $0) })
        #expect(lines["VLF-0001"]?.state == .planningOpen)
        #expect(lines["VLF-0001"]?.rightsOpened == 5) // Zoé: cantine, mercredi; Noé: all three services
        #expect(lines["VLF-0002"]?.state == .returned)
        #expect(lines["VLF-0002"]?.findings == ["payer.missing"])
        #expect(lines["VLF-0003"]?.state == .returned)
        #expect(
            Set(lines["VLF-0003"]?.findings ?? [])
                == ["children.none", "payer.contact", "emergency.missing", "document.missing"])
        #expect(lines["PTL-0001"]?.state == .awaitingReview)
        #expect(lines.values.allSatisfy { !$0.queued })
    }
}
