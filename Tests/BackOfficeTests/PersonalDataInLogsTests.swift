import BackOffice
import Foundation
import LocalPostgres
import Logging
import Postgres
import Synchronization
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
                CREATE TRIGGER leak BEFORE INSERT ON reservation_rights FOR EACH ROW EXECUTE FUNCTION leak();
                """)
        var configuration = WorkerConfiguration()
        configuration.retryBaseDelay = .milliseconds(1)
        configuration.maxAttempts = 1
        let summary = try WorkerRunner(
            conninfo: conninfo, configuration: configuration, outbox: try EmailOutbox(directory: Fixture.templates),
            logger: logs.logger
        ).drain()
        #expect(summary.failed == 1)  // VLF-0001, whose rights could not open
        _ = try administration.outbox.export(
            to: TestFiles.directory.appendingPathComponent("logs-\(UUID().uuidString)").path, format: .maildir)

        let text = logs.lines.withLock { $0.joined(separator: "\n") }
        #expect(text.contains("refused"))  // the failure is logged...
        for personal in ["Claire", "Martin", "claire.martin", "Nguyễn", "O'Connor", "Zoé", "Siobhán", "example.org"] {
            #expect(!text.contains(personal), "the logs show \(personal)")  // ...without who it concerns
        }
        // The administrator still sees the whole reason in the queue.
        #expect(try owner.scalar("SELECT last_error FROM dossier_queue", as: String.self)?.contains("Failing row") == true)
    }
}
