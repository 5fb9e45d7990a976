import Foundation
import TestSupport
import Testing

@Suite("eticket on the example data, as an operator runs it", .tags(.e2e))
struct CommandLineTests {
    @Test func theExamplePipelineThroughTheCommands() throws {
        let conninfo = try Databases.empty()
        try TestDatabases.pinDecisionClock(conninfo, at: Databases.storyInstant)
        let database = Database(conninfo: conninfo)

        let migrate = try CLI.succeed(["db", "migrate"], database: conninfo)
        #expect(migrate.stdout.contains("applied migrations"))
        #expect(try CLI.succeed(["db", "migrate"], database: conninfo).stdout.contains("schema up to date"))
        try CLI.succeed(["structures", "apply", "\(CLI.examples)/structures.json"], database: conninfo)
        let imported = try CLI.succeed(["dossiers", "import", "\(CLI.examples)/dossiers.jsonl"], database: conninfo)
        #expect(imported.stdout.contains("4 new"))
        #expect(try database.count("SELECT count(*) FROM dossier_queue") == 4)

        let worker = try CLI.succeed(["worker", "--once"], database: conninfo)
        #expect(worker.stdout.contains("processed 4"))
        #expect(try database.count("SELECT count(*) FROM dossier_queue") == 0)

        let list = try CLI.succeed(
            ["queue", "list", "--state", "planning_open,returned,awaiting_review", "--format", "json"], database: conninfo)
        let lines = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        var states: [String: String] = [:]
        for line in lines {
            if let id = line["external_id"] as? String, let state = line["state"] as? String { states[id] = state }
        }
        #expect(states.count == 4)
        #expect(states["VLF-0001"] == "planning_open")
        #expect(states["VLF-0002"] == "returned")
        #expect(states["VLF-0003"] == "returned")
        #expect(states["PTL-0001"] == "awaiting_review")

        let maildir = TestFiles.directory.appendingPathComponent("eticket-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: maildir) }
        try CLI.succeed(["outbox", "export", "--format", "maildir", "--to", maildir.path], database: conninfo)
        let new = maildir.appendingPathComponent("new")
        let files = try FileManager.default.contentsOfDirectory(atPath: new.path)
        #expect(files.count == 4)
        for file in files {
            let attributes = try FileManager.default.attributesOfItem(atPath: new.appendingPathComponent(file).path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(file)")
        }
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL") == 0)

        let templates = try CLI.run(["templates", "check"])
        #expect(templates.status == 0, "\(templates.stderr)")
    }

    /// The text report: a line per phase and speed limit, and the notes the JSON report carries.
    @Test func theBenchTextReportShowsPhasesAndNotes() throws {
        let bench = try CLI.succeed(
            ["bench", "--dossiers", "20", "--workers", "1", "--latency-samples", "0"],
            database: try Databases.empty())
        for phase in ["generate", "import", "process", "export", "plain SQL:", "bare COPY:"] {
            #expect(bench.stdout.contains("\n\(phase) "), "\(phase): \(bench.stdout)")
        }
        #expect(bench.stdout.contains("the import is "), "\(bench.stdout)")
        #expect(bench.stdout.contains(" bytes each"), "\(bench.stdout)")
        #expect(bench.stdout.contains("\nnote: "), "\(bench.stdout)")
        #expect(bench.stdout.contains(" validated "), "\(bench.stdout)")
        #expect(!bench.stdout.contains("[\""), "a Swift dictionary printed: \(bench.stdout)")
        #expect(bench.stdout.contains("of 20 generated dossiers are incomplete"), "\(bench.stdout)")
    }

    @Test func aBadFileExitsThreeNamingTheLine() throws {
        let conninfo = try Databases.withStructures()
        let file = TestFiles.directory.appendingPathComponent("eticket-e2e-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let good = try Load.lines(count: 1, prefix: "BAD")[0]
        try Data((good + "\n{\"external_id\": 42}\n").utf8).write(to: file)

        let result = try CLI.run(["dossiers", "import", file.path, "--database-url", conninfo])
        #expect(result.status == 3 && !result.signaled)
        #expect(result.stderr.contains("\(file.path):2:"), "\(result.stderr)")
        #expect(!result.stderr.contains("\(file.path):1:"))
    }

    @Test func anUnreachableDatabaseExitsFourWithOneLine() throws {
        for arguments in [["db", "migrate"], ["queue", "list"], ["worker", "--once"]] {
            let result = try CLI.run(arguments + ["--database-url", "host=/nonexistent dbname=x"], timeout: 30)
            #expect(result.status == 4 && !result.signaled, "\(arguments): \(result.status) \(result.stderr)")
            let lines = result.stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(lines.count == 1, "\(arguments): \(result.stderr)")
            #expect(lines.first?.hasPrefix("eticket: ") == true)
        }
    }

    @Test func anIdleWorkerStopsPromptlyOnSIGTERM() throws {
        let conninfo = try Databases.withStructures()
        // Promptly means without waiting for its poll: an hour, which no slow machine comes near.
        let worker = try Child(["worker", "--poll-interval", "3600", "--database-url", conninfo])
        defer { worker.kill() }
        // Idle: connected and listening.
        let deadline = ContinuousClock.now + .seconds(20)
        while !worker.stderr.contains("worker connected") && worker.isRunning && ContinuousClock.now < deadline {
            usleep(20_000)
        }
        #expect(worker.stderr.contains("worker connected"))
        usleep(300_000)
        let signaled = ContinuousClock.now
        worker.signal(SIGTERM)
        let result = worker.wait(timeout: 120)
        let seconds = (ContinuousClock.now - signaled).secondsValue
        print("idle worker: exit \(result.status) \(String(format: "%.3f", seconds)) s after SIGTERM")
        #expect(result.status == 0 && !result.signaled, "\(result.stderr)")
    }
}
