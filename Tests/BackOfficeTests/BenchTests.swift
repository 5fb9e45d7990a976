import BackOffice
import Foundation
import Testing

@Suite("Bench: the benchmark's own smoke test")
struct BenchTests {
    @Test func aTinyRunCountsEveryPhase() throws {
        let conninfo = try Fixture.migratedDatabase()
        var options = BenchOptions()
        options.dossiers = 200
        options.workers = 1
        options.batchSize = 50
        options.latencySamples = 3
        options.templatesDirectory = Fixture.templates
        options.workerMode = .threads
        let report = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()

        #expect(report.phase("generate")?.count == 200)
        #expect(report.phase("import")?.count == 200)
        #expect(report.phase("process")?.count == 200)
        #expect(report.workers.outcomes.values.reduce(0, +) == 200)
        #expect(report.workers.outcomes["returned", default: 0] > 0)
        #expect(report.workers.outcomes["validated", default: 0] > 0)
        #expect(report.workers.dueLeft == 0)
        // Every decision but those awaiting review tells the family; openings add their own email.
        #expect(report.workers.emails >= 200 - report.workers.outcomes["awaiting_review", default: 0])
        #expect(report.phase("export")?.count == report.workers.emails)
        #expect(report.baseline?.rows == 200)
        #expect((report.baseline?.rate ?? 0) > 0)
        #expect(report.latency?.samples == 3)
        // The test cluster is on this machine: both sides' CPU is read. (Only positivity can be
        // asserted: other tests run in this process and on this server at the same time.)
        for cpu in [report.phase("import")?.cpu, report.phase("process")?.cpu, report.baseline?.cpu] {
            #expect((cpu?.serverSeconds ?? 0) > 0)
            #expect((cpu?.clientSeconds ?? 0) > 0)
            #expect((cpu?.serverLimitedRate ?? 0) > 0)
        }
    }

    @Test func aTinyDepthTestProcessesTheSameNumberAtBothDepths() throws {
        let conninfo = try Fixture.migratedDatabase()
        var options = BenchOptions()
        options.dossiers = 10
        options.workers = 1
        options.batchSize = 25
        options.latencySamples = 0
        options.baseline = false
        options.depthTest = true
        options.shallowQueued = 50
        options.depthQueued = 300
        options.templatesDirectory = Fixture.templates
        let depth = try #require(try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run().depth)
        #expect(depth.shallow.count >= 50)
        #expect(depth.deep.count >= 50)
        // All 300 imported, the oldest 50 (or a batch more) decided with the rest set aside, and
        // every row set aside put back.
        #expect(depth.deepImport.count == 300)
        #expect((200...250).contains(depth.deepQueued))
        #expect(depth.ratio > 0)
        #expect((depth.deep.cpu?.serverSeconds ?? 0) > 0)
    }

    @Test func theSameSeedGeneratesTheSameDossiers() throws {
        let conninfo = try Fixture.migratedDatabase()
        var options = BenchOptions()
        options.dossiers = 20
        options.workers = 1
        options.latencySamples = 0
        options.baseline = false
        options.templatesDirectory = Fixture.templates
        let first = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        let again = try Bench(conninfo: try Fixture.migratedDatabase(), options: options, logger: Fixture.logger).run()
        #expect(first.workers.outcomes == again.workers.outcomes)
        #expect(first.notes == again.notes)
    }

    @Test func aDatabaseWithDossiersIsRefused() throws {
        let conninfo = try Fixture.migratedDatabase()
        var options = BenchOptions()
        options.dossiers = 5
        options.workers = 1
        options.latencySamples = 0
        options.baseline = false
        options.templatesDirectory = Fixture.templates
        _ = try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        #expect(throws: BackOfficeError.self) {
            try Bench(conninfo: conninfo, options: options, logger: Fixture.logger).run()
        }
    }
}
