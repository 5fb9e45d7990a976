import Foundation
import Postgres
import TestSupport
import Testing

/// Runs the built `eticket` binary as a child process, the way an operator or a scheduler does.
enum CLI {
    /// The checkout's root, found from this file.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let examples = root.appendingPathComponent("config/examples").path

    /// The `eticket` executable `swift test` built next to the test bundle.
    static let binary: String = {
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for bundle in Bundle.allBundles { candidates.append(bundle.bundleURL.deletingLastPathComponent()) }
        candidates.append(root.appendingPathComponent(".build/debug"))
        for directory in candidates {
            let path = directory.appendingPathComponent("eticket").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.appendingPathComponent(".build/debug/eticket").path
    }()

    /// The child's environment: ours without PG* or ETICKET_* settings that would point it
    /// elsewhere, and `ETICKET_HOME` at the checkout so that it finds `sql/` and `config/`.
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("PG") && !$0.key.hasPrefix("ETICKET_")
        }
        environment["ETICKET_HOME"] = root.path
        return environment
    }

    /// What a finished command did.
    struct Result {
        var status: Int32
        /// Whether it ended by a signal (then `status` is the signal's number).
        var signaled: Bool
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// Runs `eticket arguments` to the end (killed after `timeout` seconds).
    static func run(_ arguments: [String], timeout: Double = 120) throws -> Result {
        let child = try Child(arguments)
        defer { child.kill() }
        return child.wait(timeout: timeout)
    }

    /// `eticket arguments --database-url conninfo`, which must exit 0.
    @discardableResult
    static func succeed(_ arguments: [String], database conninfo: String, timeout: Double = 120) throws -> Result {
        let result = try run(arguments + ["--database-url", conninfo], timeout: timeout)
        #expect(
            result.status == 0 && !result.signaled,
            "eticket \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr.suffix(2000))")
        return result
    }
}

/// A running `eticket` process (or another `executable`); its output goes to temporary files (no
/// pipe to drain).
final class Child: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let started = ContinuousClock.now

    /// - Parameter environment: variables added to ``CLI/environment`` for this process.
    /// - Parameter unset: variables of ``CLI/environment`` this process goes without (`ETICKET_HOME`).
    init(
        _ arguments: [String], environment: [String: String] = [:], executable: String = CLI.binary,
        unset: [String] = [], in workingDirectory: String? = nil
    ) throws {
        directory = TestFiles.directory.appendingPathComponent("eticket-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("stdout").path, contents: nil)
        _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("stderr").path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = CLI.environment.merging(environment) { $1 }.filter { !unset.contains($0.key) }
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent("stdout"))
        process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("stderr"))
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ number: Int32) {
        if process.isRunning { Foundation.kill(pid, number) }
    }

    var stdout: String { (try? String(contentsOf: directory.appendingPathComponent("stdout"), encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? "" }

    /// Waits for the end, SIGKILLing the process (and its children) after `timeout` seconds.
    func wait(timeout: Double) -> CLI.Result {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning {
            let command = ([process.executableURL?.lastPathComponent ?? "eticket"] + (process.arguments ?? [])).joined(
                separator: " ")
            Issue.record("\(command) still running after \(timeout) s: killed")
            kill()
        }
        process.waitUntilExit()
        let elapsed = ContinuousClock.now - started
        return CLI.Result(
            status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
            stdout: stdout, stderr: stderr,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Ends the process and any worker processes it started, by their ids; then removes the output.
    func kill() {
        if process.isRunning {
            let descendants = Self.descendants(of: pid)
            Foundation.kill(pid, SIGKILL)
            for child in descendants { Foundation.kill(child, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// The ids of the processes whose parent is `pid`, and theirs, from /proc.
    static func descendants(of pid: pid_t) -> [pid_t] {
        var parents: [pid_t: pid_t] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let candidate = pid_t(name),
                let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.range(of: ")", options: .backwards)
            else { continue }
            let fields = stat[close.upperBound...].split(separator: " ")
            if fields.count > 1, let parent = pid_t(fields[1]) { parents[candidate] = parent }
        }
        var found: [pid_t] = []
        var frontier = [pid]
        while let next = frontier.popLast() {
            let children = parents.filter { $0.value == next }.map(\.key)
            found += children
            frontier += children
        }
        return found
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Databases for the tests, on the shared test cluster, set up through the CLI itself.
enum Databases {
    /// The instant the example data's story is told at, whatever day the tests run on: the
    /// examples' dates are fixed (Villefranche's school year 2026-2027, saint-amour's planning
    /// opening on 2027-01-15), so every database holding them pins the back office's decision
    /// clock (`eticket.clock`) there, and the CLI decides as it would on that day.
    static let storyInstant = "2026-12-03T12:00:00Z"

    /// A fresh copy of `template` (which holds the examples) with the clock pinned to ``storyInstant``.
    static func story(template: String) throws -> String {
        let conninfo = try TestDatabases.shared().create(template: template)
        try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
        return conninfo
    }

    /// A fresh, empty database.
    static func empty() throws -> String {
        try TestDatabases.shared().create()
    }

    /// A fresh database migrated and with the example structures, through `eticket`.
    static func withStructures() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "e2e_structures") { conninfo in
            try prepareStructures(conninfo)
        }
        return try story(template: template)
    }

    /// A fresh database holding `Load.count` queued dossiers (`Load.lines()`), nothing decided.
    static func withLoad() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "e2e_load") { conninfo in
            try prepareStructures(conninfo)
            try importLines(Load.lines(), into: conninfo)
        }
        return try story(template: template)
    }

    static func prepareStructures(_ conninfo: String) throws {
        try TestDatabases.pinDecisionClock(conninfo, at: storyInstant)
        try CLI.succeed(["db", "migrate"], database: conninfo)
        try CLI.succeed(["structures", "apply", "\(CLI.examples)/structures.json"], database: conninfo)
    }

    static func importLines(_ lines: [String], into conninfo: String) throws {
        let file = TestFiles.directory.appendingPathComponent("eticket-e2e-\(UUID().uuidString).jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try CLI.succeed(["dossiers", "import", file.path], database: conninfo)
    }
}

/// Generated dossiers for Villefranche, built from the example VLF-0001.
enum Load {
    /// How many dossiers the load tests queue: 600, or `ETICKET_E2E_DOSSIERS` (the issue's figure
    /// is 2,000). A debug build decides about 30 dossiers a second per process on 2 cores, so
    /// 2,000 takes the suite to about 6 minutes there; 600 keeps it within CI's 3.
    static let count: Int = {
        guard let text = ProcessInfo.processInfo.environment["ETICKET_E2E_DOSSIERS"], let count = Int(text), count >= 20
        else { return 600 }
        return count
    }()

    /// Whether `LOAD-<n>` is incomplete (its only guardian is not a payer): every fifth one.
    static func isIncomplete(_ number: Int) -> Bool { number % 5 == 0 }
    static var incompleteCount: Int { (1...count).filter(isIncomplete).count }

    /// `LOAD-1` … `LOAD-<count>`: complete ones end `planning_open`, incomplete ones `returned`.
    static func lines(count: Int = Load.count, prefix: String = "LOAD") throws -> [String] {
        let text = try String(contentsOfFile: "\(CLI.examples)/dossiers.jsonl", encoding: .utf8)
        guard let example = text.split(separator: "\n").first(where: { $0.contains("\"VLF-0001\"") }),
            let base = try JSONSerialization.jsonObject(with: Data(example.utf8)) as? [String: Any]
        else { throw CocoaError(.fileReadCorruptFile) }
        return try (1...count).map { number in
            var dossier = base
            dossier["external_id"] = "\(prefix)-\(number)"
            if isIncomplete(number), var guardians = dossier["guardians"] as? [[String: Any]] {
                for index in guardians.indices { guardians[index]["payer"] = false }
                dossier["guardians"] = guardians
            }
            return String(decoding: try JSONSerialization.data(withJSONObject: dossier, options: [.sortedKeys]), as: UTF8.self)
        }
    }
}

/// SQL assertions through a plain connection.
struct Database {
    let conninfo: String

    func count(_ sql: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let result = try connection.query(sql, parameters)
        guard let row = result.first, let column = result.columns.first else { return -1 }
        return try row.decode(Int.self, column)
    }

    func strings(_ sql: String) throws -> [String] {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let result = try connection.query(sql)
        guard let column = result.columns.first else { return [] }
        return try result.map { try $0.decode(String.self, column) }
    }

    /// Waits until `sql` counts `expected` (or less, with `orLess`), polling; returns the seconds waited.
    @discardableResult
    func wait(until sql: String, equals expected: Int, timeout: Double) throws -> Double {
        let started = ContinuousClock.now
        let deadline = started + .milliseconds(Int(timeout * 1000))
        var last = -1
        while ContinuousClock.now < deadline {
            if let value = try? count(sql) {
                last = value
                if value == expected { return (ContinuousClock.now - started).secondsValue }
            }
            usleep(50_000)
        }
        Issue.record("\(sql) is \(last), not \(expected), after \(timeout) s")
        return timeout
    }

    /// The invariants of a fully processed load: each dossier decided once, each decision one email,
    /// each opening one email, states as the rules say.
    func expectEachDecidedOnce(count total: Int = Load.count, incomplete: Int = Load.incompleteCount) throws {
        #expect(try count("SELECT count(*) FROM decisions") == total)
        #expect(
            try count("SELECT count(*) FROM (SELECT dossier_id FROM decisions GROUP BY dossier_id HAVING count(*) > 1) x") == 0)
        #expect(try count("SELECT count(*) FROM dossier_queue") == 0)
        try expectConsistent()
        #expect(try count("SELECT count(*) FROM dossiers WHERE state = 'planning_open'") == total - incomplete)
        #expect(try count("SELECT count(*) FROM dossiers WHERE state = 'returned'") == incomplete)
        #expect(try count("SELECT count(*) FROM email_outbox WHERE kind = 'planning-open'") == total - incomplete)
    }

    /// What must hold at every commit: no decision without its email, nothing half-done.
    func expectConsistent() throws {
        // Each decision has exactly one dossier-processed email.
        #expect(
            try count(
                """
                SELECT count(*) FROM decisions d
                WHERE (SELECT count(*) FROM email_outbox o WHERE o.decision_id = d.id AND o.kind = 'dossier-processed') <> 1
                """) == 0)
        #expect(
            try count("SELECT count(*) FROM email_outbox WHERE kind = 'dossier-processed'")
                == count("SELECT count(*) FROM decisions"))
        // No planning-open email twice for a dossier, none without rights.
        #expect(
            try count(
                "SELECT count(*) FROM (SELECT dossier_id FROM email_outbox WHERE kind = 'planning-open' GROUP BY dossier_id HAVING count(*) > 1) x"
            )
                == 0)
        #expect(
            try count(
                """
                SELECT count(*) FROM dossiers d
                WHERE (d.state = 'planning_open') <> EXISTS (SELECT 1 FROM email_outbox o WHERE o.dossier_id = d.id AND o.kind = 'planning-open')
                   OR (d.state = 'planning_open') <> EXISTS (SELECT 1 FROM reservation_rights r WHERE r.dossier_id = d.id)
                """) == 0)
        // Decided dossiers have left the queue and moved on; undecided ones wait in it, submitted.
        #expect(
            try count(
                """
                SELECT count(*) FROM dossiers d
                WHERE EXISTS (SELECT 1 FROM decisions x WHERE x.dossier_id = d.id)
                    AND (d.state = 'submitted' OR EXISTS (SELECT 1 FROM dossier_queue q WHERE q.dossier_id = d.id))
                """) == 0)
        #expect(
            try count(
                """
                SELECT count(*) FROM dossiers d
                WHERE NOT EXISTS (SELECT 1 FROM decisions x WHERE x.dossier_id = d.id)
                    AND (d.state <> 'submitted' OR NOT EXISTS (SELECT 1 FROM dossier_queue q WHERE q.dossier_id = d.id))
                """) == 0)
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
