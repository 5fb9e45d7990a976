import BackOffice
import Dossiers
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Worker: decisions, retries, scheduled rights, emails")
struct WorkerTests {
    /// A database with the examples imported and nothing decided yet.
    private func importedExamples() throws -> String {
        try Fixture.submittedExamplesDatabase()
    }

    private func drain(_ conninfo: String, _ configure: (inout WorkerConfiguration) -> Void = { _ in }) throws -> BatchSummary {
        var configuration = WorkerConfiguration()
        configure(&configuration)
        let outbox = try EmailOutbox(directory: Fixture.templates)
        return try WorkerRunner(conninfo: conninfo, configuration: configuration, outbox: outbox, logger: Fixture.logger)
            .drain()
    }

    @Test func aDecisionRecordsWhoWhatAndOnWhichContent() throws {
        let conninfo = try importedExamples()
        _ = try drain(conninfo) { $0.identity = "worker:test-host:42" }
        let connection = try Fixture.connection(conninfo)
        let row = try #require(
            try connection.query(
                """
                SELECT x.outcome::text AS outcome, x.rules_version, x.decided_by, x.dossier_version,
                       x.content_sha256 = encode(sha256(convert_to(d.content::text, 'UTF8')), 'hex') AS hash_matches,
                       x.findings::text AS findings
                FROM decisions x JOIN dossiers d ON d.id = x.dossier_id WHERE d.external_id = 'VLF-0002'
                """
            ).first)
        #expect(try row.decode(String.self, "outcome") == "returned")
        #expect(try row.decode(String.self, "rules_version") == CompletenessRules.version)
        #expect(try row.decode(String.self, "decided_by") == "worker:test-host:42")
        #expect(try row.decode(Int.self, "dossier_version") == 1)
        #expect(try row.decode(Bool.self, "hash_matches"))
        let findings = try JSONDecoder().decode([Finding].self, from: Data(try row.decode(String.self, "findings").utf8))
        #expect(findings.map(\.code) == ["payer.missing"])
        #expect(findings.allSatisfy { !$0.messageFR.isEmpty && !$0.messageEN.isEmpty })
    }

    /// A validated dossier whose rights open at once moves once, through validated (022).
    @Test func everyTransitionLeavesItsEvent() throws {
        let conninfo = try importedExamples()
        _ = try drain(conninfo) { $0.identity = "worker:h:1" }
        let connection = try Fixture.connection(conninfo)
        let events = try connection.query(
            """
            SELECT coalesce(e.from_state::text, '-') || '>' || coalesce(e.via::text || '>', '') || e.to_state::text AS move,
                   e.actor, x.outcome::text AS decided
            FROM dossier_events e JOIN dossiers d ON d.id = e.dossier_id LEFT JOIN decisions x ON x.id = e.decision_id
            WHERE d.external_id = 'VLF-0001' ORDER BY e.id
            """
        ).map {
            (
                try $0.decode(String.self, "move"), try $0.decode(String.self, "actor"),
                try $0.decodeIfPresent(String.self, "decided")
            )
        }
        #expect(events.map(\.0) == ["->submitted", "submitted>validated>planning_open"])
        #expect(events.map(\.1) == ["import", "worker:h:1"])
        #expect(events.map(\.2) == [nil, "validated"])
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'VLF-0001'", as: String.self)
                == "planning_open")
    }

    @Test func familiesHearOfDecisionsOnceAndNotOfAReview() throws {
        let conninfo = try importedExamples()
        _ = try drain(conninfo)
        let connection = try Fixture.connection(conninfo)
        let emails = try connection.query(
            """
            SELECT d.external_id, o.kind::text AS kind FROM email_outbox o JOIN dossiers d ON d.id = o.dossier_id
            ORDER BY d.external_id, o.kind
            """
        ).map { "\(try $0.decode(String.self, "external_id")) \(try $0.decode(String.self, "kind"))" }
        #expect(
            emails == [
                "VLF-0001 dossier-processed", "VLF-0001 planning-open", "VLF-0002 dossier-processed",
                "VLF-0003 dossier-processed",
            ])
        // Every notifying decision has exactly one email, and the stored bytes are the whole message.
        #expect(
            try connection.scalar(
                """
                SELECT count(*) FROM decisions x LEFT JOIN email_outbox o ON o.decision_id = x.id
                WHERE x.outcome <> 'awaiting_review' AND o.id IS NULL
                """, as: Int.self) == 0)
        let message = try #require(
            try RenderedOutbox.message("SELECT id FROM email_outbox ORDER BY id LIMIT 1", on: connection)
                .map { String(decoding: $0, as: UTF8.self) })
        #expect(message.contains("Auto-Submitted: auto-generated\r\n"))
        #expect(message.contains("multipart/alternative"))
    }

    @Test func aPoisonDossierIsRetriedWithBackoffThenParkedWhileTheRestIsDecided() throws {
        let conninfo = try importedExamples()
        let connection = try Fixture.connection(conninfo)
        try Fixture.poison("VLF-0002", on: connection)
        func configure(_ configuration: inout WorkerConfiguration) {
            configuration.maxAttempts = 3
            configuration.retryBaseDelay = .milliseconds(200)
        }
        let first = try drain(conninfo, configure)
        #expect(first.outcomes[.validated] == 1)
        #expect(first.outcomes[.returned] == 1) // VLF-0003; VLF-0002 is the poison
        #expect(first.outcomes[.awaitingReview] == 1)
        #expect(first.retried == 1)

        // The backoff, read off the row: run_at counts from the (pinned) clock of the failed attempt.
        // Time passes by moving the clock to the retry's time, never by waiting for it.
        var clock = Fixture.storyDate
        let queued = """
            SELECT q.attempts, q.last_error, q.failed_at IS NOT NULL AS parked, q.run_at
            FROM dossier_queue q JOIN dossiers d ON d.id = q.dossier_id WHERE d.external_id = 'VLF-0002'
            """
        var row = try #require(try connection.query(queued).first)
        #expect(try row.decode(Int.self, "attempts") == 1)
        #expect(try row.decode(String.self, "last_error").contains("poisoned dossier"))
        var runAt = try row.decode(Date.self, "run_at")
        var backoffs = [runAt.timeIntervalSince(clock)]
        #expect(try drain(conninfo, configure).claimed == 0) // not due before its time

        for _ in 0..<2 {
            clock = runAt
            try Fixture.pinClock(conninfo, at: clock)
            _ = try drain(conninfo, configure)
            row = try #require(try connection.query(queued).first)
            runAt = try row.decode(Date.self, "run_at")
            backoffs.append(runAt.timeIntervalSince(clock))
        }
        #expect(backoffs.map { ($0 * 1000).rounded() / 1000 } == [0.2, 0.4, 0.8]) // doubled at each attempt
        #expect(try row.decode(Int.self, "attempts") == 3)
        #expect(try row.decode(Bool.self, "parked"))
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'VLF-0002'", as: String.self)
                == "submitted")
        // Parked: later drains leave it alone.
        try Fixture.pinClock(conninfo, at: runAt.addingTimeInterval(3600))
        #expect(try drain(conninfo, configure).claimed == 0)
    }

    /// Whether a period is over is the decision clock's to say, not the machine's date: the day after
    /// Villefranche's school year ends, a complete dossier is validated and opens nothing.
    @Test func aPeriodOverByTheDecisionClockOpensNoRights() throws {
        let conninfo = try importedExamples()
        try Fixture.pinClock(conninfo, at: "2027-07-04T12:00:00+02:00")
        let summary = try drain(conninfo)
        #expect(summary.outcomes[.validated] == 1)
        #expect(summary.planningOpened == 0)
        let connection = try Fixture.connection(conninfo)
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'VLF-0001'", as: String.self)
                == "validated")
        #expect(try connection.scalar("SELECT count(*) FROM reservation_rights", as: Int.self) == 0)
    }

    /// Only the database's own setting moves the clock: a login that sets `eticket.clock` for its
    /// session (here through the connection's options, as `PGOPTIONS` would) decides by the
    /// database's clock all the same.
    @Test func aSessionCannotMoveTheDecisionClock() throws {
        let conninfo = try importedExamples()
        let summary = try drain("\(conninfo) options='-c eticket.clock=2027-07-04T12:00:00+02:00'")
        #expect(summary.planningOpened == 1)
        let connection = try Fixture.connection(conninfo)
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'VLF-0001'", as: String.self)
                == "planning_open")
    }

    @Test func scheduledRightsOpenAtTheirTimeAndOnlyOnce() throws {
        let conninfo = try Fixture.migratedDatabase()
        try Fixture.pinClock(conninfo)
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        // saint-amour, reviewed automatically; its planning opens on 2027-01-15, after the story's day.
        var structures = try String(contentsOfFile: "\(Fixture.examples)/structures.json", encoding: .utf8)
        structures = structures.replacingOccurrences(of: #""review": "manual""#, with: #""review": "automatic""#)
        _ = try administration.applyStructures(file: try Fixture.data(Data(structures.utf8), name: "structures.json"))
        let lines = try Fixture.exampleLines()
        _ = try administration.importDossiers(file: try Fixture.file([try #require(lines["PTL-0001"])]))
        let connection = try Fixture.connection(conninfo)
        let rights = "SELECT count(*) FROM reservation_rights"
        let state = "SELECT state::text FROM dossiers WHERE external_id = 'PTL-0001'"

        let before = try drain(conninfo)
        #expect(before.outcomes[.validated] == 1)
        #expect(try connection.scalar(state, as: String.self) == "validated")
        #expect(try connection.scalar(rights, as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM dossier_queue WHERE job = 'open_rights'", as: Int.self) == 1)
        #expect(try drain(conninfo).claimed == 0) // not due yet

        // The day comes: the clock moves to the opening (never a wait for real time).
        try Fixture.pinClock(conninfo, at: "2027-01-15T09:00:00+01:00")
        let after = try drain(conninfo)
        #expect(after.planningOpened == 1)
        #expect(try connection.scalar(state, as: String.self) == "planning_open")
        #expect(try connection.scalar(rights, as: Int.self) == 1) // Aoife, centre-loisirs
        #expect(try connection.scalar("SELECT count(*) FROM email_outbox WHERE kind = 'planning-open'", as: Int.self) == 1)

        // Opening again (a retried job, an administrator) changes nothing and mails nothing.
        try connection.query(
            "INSERT INTO dossier_queue (dossier_id, job, period_id) SELECT dossier_id, 'open_rights', period_id FROM child_period_rights"
        )
        #expect(try drain(conninfo).planningOpened == 0)
        #expect(try connection.scalar(rights, as: Int.self) == 1)
        #expect(try connection.scalar("SELECT count(*) FROM email_outbox WHERE kind = 'planning-open'", as: Int.self) == 1)
    }

    @Test func aBrokenTemplateStopsTheWorkerBeforeItDecidesAnything() throws {
        let directory = TestFiles.directory.appendingPathComponent("templates-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: Fixture.templates, toPath: directory)
        try Data("<email kind=\"planning-open\" lang=\"fr\"><subject>".utf8)
            .write(to: URL(fileURLWithPath: "\(directory)/planning-open.fr.xml"))
        let error = try #require(throws: BackOfficeError.self) { try EmailOutbox(directory: directory) }
        #expect(error.message.contains("planning-open.fr.xml"))
    }
}
