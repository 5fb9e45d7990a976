import Foundation
import Postgres
import TestSupport
import Testing

@testable import BackOffice

@Suite("The scheduled batch run")
struct BatchRunTests {
    private func importedExamples() throws -> String {
        try Fixture.submittedExamplesDatabase()
    }

    private func batchRun(_ conninfo: String, _ configure: (inout WorkerConfiguration) -> Void = { _ in }) throws -> BatchRun {
        var configuration = WorkerConfiguration()
        configuration.identity = "worker:batch-test:1"
        configure(&configuration)
        return BatchRun(
            conninfo: conninfo, configuration: configuration, outbox: try EmailOutbox(directory: Fixture.templates),
            logger: Fixture.logger)
    }

    private func temporaryDirectory() throws -> String {
        let path = TestFiles.directory.appendingPathComponent("eticket-batch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aRunDecidesTheExamplesExportsTheirEmailsAndCountsEverything() throws {
        let conninfo = try importedExamples()
        let maildir = try temporaryDirectory() + "/Maildir"
        var progress: [(Int, Int)] = []
        let report = try batchRun(conninfo) { $0.batchSize = 2 }.run(
            maxDuration: .seconds(120), export: .init(path: maildir, format: .maildir), onProgress: { progress.append(($0, $1)) })
        #expect(report.stoppedBy == .empty)
        #expect(report.processed == 4)
        #expect(report.batches == 2)
        #expect(report.outcomes == ["validated": 1, "returned": 2, "awaiting_review": 1])
        #expect(report.planningOpened == 1)
        #expect(report.retried == 0 && report.failed == 0 && !report.hasFailures)
        #expect(report.emails == ["dossier-processed": 3, "planning-open": 1])
        #expect(report.emailsExported == 4)
        #expect(report.remaining == 0)
        #expect(progress.map { $0.0 } == [0, 2, 4])
        #expect(progress.allSatisfy { $0.1 == 4 })
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(maildir)/new")
        #expect(files.count == 4)

        // Machines read --format json: the report encodes, and decodes back to the same counts.
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try encoder.encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect((object["outcomes"] as? [String: Int])?["returned"] == 2)
        #expect(object["emailsExported"] as? Int == 4)
        #expect(object["stoppedBy"] as? String == "empty")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var decoded = try decoder.decode(BatchRunReport.self, from: json)
        decoded.startedAt = report.startedAt // ISO 8601 keeps whole seconds
        #expect(decoded == report)

        // Nothing left: a second run does nothing and exports nothing.
        let again = try batchRun(conninfo).run(maxDuration: .seconds(60), export: .init(path: maildir, format: .maildir))
        #expect(again.processed == 0)
        #expect(again.emailsExported == 0)
        #expect(again.emails.isEmpty)
    }

    @Test func aSecondRunWhileOneHoldsTheLockIsRefusedAtOnce() throws {
        let conninfo = try importedExamples()
        let holder = try Connection(conninfo)
        defer { holder.close() }
        try holder.query("SELECT pg_advisory_lock($1)", [BatchRun.lockKey])
        let error = try #require(throws: BackOfficeError.self) {
            try batchRun(conninfo).run(maxDuration: .seconds(60))
        }
        #expect(error.code == .busy)
        #expect(error.message.hasPrefix("another batch run is in progress (database backend \(holder.backendPID))"))
        let connection = try Fixture.connection(conninfo)
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue", as: Int.self) == 4) // untouched

        try holder.query("SELECT pg_advisory_unlock($1)", [BatchRun.lockKey])
        #expect(try batchRun(conninfo).run(maxDuration: .seconds(60)).processed == 4)
        // The run let go of its lock when it finished.
        #expect(try holder.scalar("SELECT pg_try_advisory_lock($1)", [BatchRun.lockKey], as: Bool.self) == true)
    }

    @Test func aRunStopsStartingBatchesWhenItsTimeIsUp() throws {
        let conninfo = try importedExamples()
        let report = try batchRun(conninfo).run(maxDuration: .nanoseconds(1))
        #expect(report.stoppedBy == .deadline)
        #expect(report.processed == 0)
        #expect(report.remaining == 4)
    }

    @Test func scheduledOpeningsWhoseTimeHasComeAreCarriedOut() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let outbox = try EmailOutbox(directory: Fixture.templates)
        _ = try administration.decide("PTL-0001", .approve, reason: nil, by: "alice", outbox: outbox)
        let connection = try Fixture.connection(conninfo)
        // Not due yet (2027-01-15): the run leaves it.
        #expect(try batchRun(conninfo).run(maxDuration: .seconds(60)).processed == 0)
        // The day comes: the clock moves to the opening.
        try Fixture.pinClock(conninfo, at: "2027-01-15T09:00:00+01:00")
        let report = try batchRun(conninfo).run(maxDuration: .seconds(60))
        #expect(report.processed == 1)
        #expect(report.planningOpened == 1)
        #expect(report.emails == ["planning-open": 1])
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'PTL-0001'", as: String.self)
                == "planning_open")
    }

    @Test func aFailingDossierMakesTheRunDoneWithFailures() throws {
        let conninfo = try importedExamples()
        let connection = try Fixture.connection(conninfo)
        try Fixture.poison("VLF-0002", on: connection)
        let report = try batchRun(conninfo) { $0.retryBaseDelay = .seconds(60) }.run(maxDuration: .seconds(60))
        #expect(report.retried == 1)
        #expect(report.hasFailures)
        #expect(report.processed == 4)
        #expect(report.stoppedBy == .empty)
        let metrics = BatchMetrics.render(report, exitStatus: 5)
        #expect(metrics.contains("eticket_batch_retried 1\n"))
        #expect(metrics.contains("eticket_batch_exit_status 5\n"))
    }

    @Test func metricsAreRenderedForPrometheusAndReplacedAtomically() throws {
        var report = BatchRunReport(startedAt: Date(timeIntervalSince1970: 1_800_000_000))
        report.outcomes = ["validated": 3, "returned": 1]
        report.emails = ["dossier-processed": 4]
        report.durationSeconds = 1.5
        let text = BatchMetrics.render(report, exitStatus: 0)
        #expect(text.contains("# TYPE eticket_batch_duration_seconds gauge\neticket_batch_duration_seconds 1.500\n"))
        #expect(text.contains("eticket_batch_decisions{outcome=\"validated\"} 3\n"))
        #expect(text.contains("eticket_batch_decisions{outcome=\"rejected\"} 0\n"))
        #expect(text.contains("eticket_batch_emails{kind=\"planning-open\"} 0\n"))
        #expect(text.contains("eticket_batch_last_run_timestamp_seconds 1800000000.000\n"))

        let directory = try temporaryDirectory()
        let path = "\(directory)/eticket_batch.prom"
        try BatchMetrics.save("old\n", to: path)
        try BatchMetrics.save(text, to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["eticket_batch.prom"])
        #expect(throws: BackOfficeError.self) { try BatchMetrics.save(text, to: "\(directory)/missing/x.prom") }
    }

    @Test(arguments: [
        ("15m", 900.0), ("90s", 90), ("2h", 7200), ("1h30m", 5400), ("500ms", 0.5), ("45", 45),
    ])
    func durationsParseTheWayOperatorsWriteThem(_ text: String, _ seconds: Double) {
        let parsed = Duration(parsing: text)
        #expect(parsed == .milliseconds(Int64(seconds * 1000)))
    }

    @Test(arguments: ["", "abc", "15x", "m", "0", "-5", "1h-2m", "0s"])
    func nonsenseDurationsAreRefused(_ text: String) {
        #expect(Duration(parsing: text) == nil)
    }
}
