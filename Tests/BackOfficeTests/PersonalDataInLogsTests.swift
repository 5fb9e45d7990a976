import BackOffice
import Foundation
import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

/// Collects every log line, message and metadata, as a handler would print them.
final class CapturedLogs: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "captured") { _ in Handler(logs: self) }
    }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            logs.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
        }
    }
}

@Suite("Logs carry ids, never personal data")
struct PersonalDataInLogsTests {
    @Test func importWorkerFailuresAndExportLogNoNamesOrEmails() throws {
        let logs = CapturedLogs()
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Administration(conninfo: conninfo, actor: "admin:test", logger: logs.logger)
        defer { administration.close() }
        _ = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        // A failure whose detail quotes the family, as a constraint's "Failing row contains" would.
        let owner = try Fixture.connection(conninfo)
        try owner.execute(
            script: """
                CREATE FUNCTION leak() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'refused' USING DETAIL = 'Failing row contains (Claire, Martin, claire.martin@example.org)';
                END $$;
                CREATE TRIGGER leak BEFORE INSERT ON child_period_rights FOR EACH ROW EXECUTE FUNCTION leak();
                """)
        var configuration = WorkerConfiguration()
        configuration.retryBaseDelay = .milliseconds(1)
        configuration.maxAttempts = 1
        let summary = try WorkerRunner(
            conninfo: conninfo, configuration: configuration, outbox: try EmailOutbox(directory: Fixture.templates),
            logger: logs.logger
        ).drain()
        #expect(summary.failed == 1) // VLF-0001, whose rights could not open
        _ = try administration.outbox.export(
            to: TestFiles.directory.appendingPathComponent("logs-\(UUID().uuidString)").path, format: .maildir)

        let text = logs.lines.withLock { $0.joined(separator: "\n") }
        #expect(text.contains("refused")) // the failure is logged...
        for personal in ["Claire", "Martin", "claire.martin", "Nguyễn", "O'Connor", "Zoé", "Siobhán", "example.org"] {
            #expect(!text.contains(personal), "the logs show \(personal)") // ...without who it concerns
        }
        // The administrator still sees the whole reason in the queue.
        #expect(try owner.scalar("SELECT last_error FROM dossier_queue", as: String.self)?.contains("Failing row") == true)
    }

    /// Family data written before the import refused it (or behind its back): a worker at trace
    /// level decides, and the export that cannot email the family logs the failure and the email's
    /// id, not the address that an attacker shaped into headers, nor the names.
    @Test func aWorkerAndAnExportAtTraceLevelLogNoHostileNameOrAddress() throws {
        let logs = CapturedLogs()
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Administration(conninfo: conninfo, actor: "admin:test", logger: logs.logger)
        defer { administration.close() }
        _ = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        let owner = try Fixture.connection(conninfo)
        try owner.query(
            """
            UPDATE accounts SET email = 'victim' || id || '@example.org' || chr(13) || chr(10) || 'Bcc: everyone@example.net',
                                first_name = 'Mallory' || chr(10) || 'X-Injected: yes'
            """)
        var configuration = WorkerConfiguration()
        configuration.retryBaseDelay = .milliseconds(1)
        let summary = try WorkerRunner(
            conninfo: conninfo, configuration: configuration, outbox: try EmailOutbox(directory: Fixture.templates),
            logger: logs.logger
        ).drain()
        #expect(summary.failed == 0)
        let emails = try #require(try owner.scalar("SELECT count(*) FROM email_outbox", as: Int.self))
        #expect(emails > 0)

        // The emails cannot be composed, and never will be: skipped and left pending...
        let report = try administration.outbox.export(
            to: TestFiles.directory.appendingPathComponent("hostile-\(UUID().uuidString)").path, format: .maildir)
        #expect(report.exported == 0)
        #expect(report.unrenderable.count == emails)
        #expect(try owner.scalar("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL", as: Int.self) == emails)

        let text = logs.lines.withLock { $0.joined(separator: "\n") }
        #expect(text.contains("not a usable email address"))
        for personal in ["victim", "Bcc", "everyone@", "Mallory", "X-Injected", "Claire", "Martin", "example.org"] {
            #expect(!text.contains(personal), "the logs show \(personal): \(text)") // ...and logged without the address
        }
    }

    /// A data exception quotes the value it could not read (`invalid input syntax for type date:
    /// "…"`): the log form keeps the message and withholds the value.
    @Test func aDataExceptionIsLoggedWithoutTheValueItQuotes() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        let error = #expect(throws: PostgresError.self) {
            try connection.query("SELECT $1::date AS day", ["Claire Martin"])
        }
        let logged = try #require(error?.logDescription)
        #expect(logged.contains("invalid input syntax for type date"))
        #expect(!logged.contains("Claire"), "\(logged)")
        #expect(error?.description.contains("Claire") == true) // the person at the terminal sees it
    }

    /// An administrator's name is personal data too: decisions record it, logs do not.
    @Test func anAdministratorsDecisionIsLoggedWithoutTheirName() throws {
        let logs = CapturedLogs()
        let conninfo = try Fixture.decidedExamples()
        let administration = try Administration(conninfo: conninfo, actor: "admin:test", logger: logs.logger)
        defer { administration.close() }
        _ = try administration.decide(
            "PTL-0001", .approve, reason: nil, by: "Marie Curie", outbox: try EmailOutbox(directory: Fixture.templates))
        let text = logs.lines.withLock { $0.joined(separator: "\n") }
        #expect(text.contains("administrator decision"))
        #expect(!text.contains("Marie"), "\(text)")
    }
}
