import Foundation
import TestSupport
import Testing

/// Bad configuration files and command-line values: each gets a clear message and its exit code
/// (3 for bad data, 2 for a usage error), and nothing runs.
@Suite("Bad configuration and command-line values", .tags(.e2e))
struct BadInputTests {
    private func configFile(_ text: String) throws -> String {
        let path = TestFiles.directory.appendingPathComponent("eticket-config-\(UUID().uuidString).json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(arguments: [
        (#"{"worker": {"batchSize": 0"#, "json:1:27: not valid JSON: unexpected end of input"),
        (#"{"worker": {"batchSize": 1, "batchSize": 2}}"#, #"duplicate key "batchSize""#),
        (#"["worker"]"#, "a configuration file is a JSON object"),
        (#"{"worker": {"batchSize": "many"}}"#, "worker.batchSize: not a number: many"),
        (#"{"worker": {"batchSize": 0}}"#, "worker.batchSize: must be a whole number of at least 1"),
        (#"{"worker": {"pollIntervalSeconds": -1}}"#, "worker.pollIntervalSeconds: must be a number of seconds above 0"),
        (#"{"log": {"level": "loud"}}"#, "log.level: loud is not one of"),
    ])
    func aBadConfigurationFileIsRefusedWithItsReason(_ text: String, _ reason: String) throws {
        let path = try configFile(text)
        let result = try CLI.run(["worker", "--once", "--config", path, "--database-url", "host=/nonexistent"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aMissingConfigurationFileIsBadInput() throws {
        let result = try CLI.run(["worker", "--once", "--config", "/nonexistent/eticket.json"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("/nonexistent/eticket.json: no such configuration file"))
    }

    @Test func environmentValuesAreCheckedLikeTheFile() throws {
        let child = try Child(
            ["worker", "--once", "--database-url", "host=/nonexistent"], environment: ["ETICKET_WORKER_MAX_ATTEMPTS": "lots"])
        let result = child.wait(timeout: 30)
        #expect(result.status == 3)
        #expect(result.stderr.contains("worker.maxAttempts: not a number: lots"))
    }

    @Test(arguments: [
        ["frobnicate"],
        ["worker", "--batch-size"],
        ["worker", "--batch-size", "many"],
        ["queue", "list", "--format", "yaml"],
        ["outbox", "export", "--format", "pigeon", "--to", "/tmp/x"],
        ["templates", "preview", "dossier-processed"],
        ["dossiers", "import"],
        ["dossiers", "import", "dossiers.jsonl", "--connections", "0"],
        ["outbox", "export", "--format", "jsonl", "--to", "/nonexistent/x", "--limit", "0"],
        ["outbox", "list", "--limit", "0"],
    ])
    func aBadCommandLineIsAUsageError(_ arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("Usage:") || result.stderr.contains("Error:"), "\(result.stderr)")
    }

    @Test func aFlagOverridesTheEnvironmentWhichOverridesTheFile() throws {
        // The file says 0 (refused); the environment says 7; the flag says 5: the flag wins, and the
        // file's bad value is never read. Without the flag, the environment's good value wins.
        let path = try configFile(#"{"worker": {"batchSize": 0}}"#)
        let withFlag = try Child(
            ["worker", "--once", "--config", path, "--batch-size", "5", "--database-url", "host=/nonexistent"],
            environment: ["ETICKET_WORKER_BATCH_SIZE": "7"]
        ).wait(timeout: 30)
        #expect(withFlag.status == 4, "\(withFlag.stderr)") // it got as far as connecting
        let withEnvironment = try Child(
            ["worker", "--once", "--config", path, "--database-url", "host=/nonexistent"],
            environment: ["ETICKET_WORKER_BATCH_SIZE": "7"]
        ).wait(timeout: 30)
        #expect(withEnvironment.status == 4, "\(withEnvironment.stderr)")
        let withFile = try CLI.run(["worker", "--once", "--config", path, "--database-url", "host=/nonexistent"])
        #expect(withFile.status == 3)
    }

    /// Every option that takes a date, a time, a month or a duration reads it strictly: a value
    /// that is not exactly the documented form is a usage error naming the option, the value and
    /// the form, before any database is touched (the URL below would otherwise give exit 4).
    @Test(arguments: [
        (
            ["dossiers", "purge", "--returned-before", "2027-02-30"],
            "--returned-before 2027-02-30: not a date or a time; expected YYYY-MM-DD"
        ),
        (
            ["dossiers", "purge", "--returned-before", "2026-12-07T99:99:99Z"],
            "--returned-before 2026-12-07T99:99:99Z: not a date"
        ),
        (["dossiers", "purge", "--returned-before", "2026-12-07';DROP"], "--returned-before 2026-12-07';DROP: not a date"),
        (["dossiers", "purge", "--returned-before", "2026-12-07T10:00:00"], "expected YYYY-MM-DD or RFC 3339"),
        (
            ["rights", "open", "--structure", "villefranche", "--period", "2026-2027", "--at", "2027-02-30T10:00:00Z"],
            "--at 2027-02-30T10:00:00Z: not a date and time"
        ),
        (
            ["rights", "open", "--structure", "villefranche", "--period", "2026-2027", "--at", "2027-01-15 25:00"],
            "--at 2027-01-15 25:00: not a date and time"
        ),
        (
            ["outbox", "export", "--format", "jsonl", "--to", "/nonexistent/x", "--again", "2026-12-07';DROP"],
            "--again 2026-12-07';DROP: not a date or a time"
        ),
        (["batch", "run", "--max-duration", "99999999999999h"], "--max-duration 99999999999999h: not a duration; expected"),
        (["batch", "run", "--max-duration", "1h1h"], "--max-duration 1h1h: not a duration"),
        (["queue", "list", "--older-than", "99999999999999h"], "--older-than 99999999999999h: not a duration"),
        (["queue", "list", "--older-than", "1.5d"], "--older-than 1.5d: not a duration"),
        (["planning", "show", "--child", "VLF-0001/1", "--month", "2026-13"], "--month 2026-13: not a month; expected YYYY-MM"),
        (["planning", "show", "--child", "VLF-0001/1", "--month", "2026-+1"], "--month 2026-+1: not a month"),
        (
            ["reservations", "add", "--child", "VLF-0001/1", "--service", "cantine", "--date", "2027-02-30"],
            "--date 2027-02-30: not a date; expected YYYY-MM-DD"
        ),
        (
            ["reservations", "remove", "--child", "VLF-0001/1", "--service", "cantine", "--date", "2026-12-01x"],
            "--date 2026-12-01x: not a date"
        ),
    ])
    func aMalformedDateTimeMonthOrDurationIsAUsageError(_ arguments: [String], _ reason: String) throws {
        let result = try CLI.run(arguments + ["--database-url", "host=/nonexistent"])
        #expect(!result.signaled, "\(arguments): killed by signal \(result.status)")
        #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
    }

    /// The documented forms still pass: each of these gets as far as connecting (exit 4).
    @Test(arguments: [
        ["dossiers", "purge", "--returned-before", "2027-02-28"],
        ["dossiers", "purge", "--returned-before", "2027-02-28T10:00:00+01:00"],
        ["rights", "open", "--structure", "villefranche", "--period", "2026-2027", "--at", "2027-01-15T09:00:00Z"],
        ["rights", "open", "--structure", "villefranche", "--period", "2026-2027", "--at", "2027-01-15 09:00"],
        ["rights", "open", "--structure", "villefranche", "--period", "2026-2027", "--at", "2024-02-29T09:00:30.5-05:00"],
        ["outbox", "export", "--format", "jsonl", "--to", "/nonexistent/x", "--again", "2026-12-07"],
        ["batch", "run", "--max-duration", "1h30m"],
        ["batch", "run", "--max-duration", "90"],
        ["queue", "list", "--older-than", "1d12h"],
        ["queue", "list", "--older-than", "1w"],
        ["planning", "show", "--child", "VLF-0001/1", "--month", "2028-02"],
        ["reservations", "add", "--child", "VLF-0001/1", "--service", "cantine", "--date", "2028-02-29"],
    ])
    func aWellFormedDateTimeMonthOrDurationIsAccepted(_ arguments: [String]) throws {
        let result = try CLI.run(arguments + ["--database-url", "host=/nonexistent"])
        #expect(result.status == 4, "\(arguments): \(result.status) \(result.stderr)")
    }

    /// A structure, period, service, dossier or child that does not exist is named, exit 3, in every
    /// command that takes one: never an empty report that reads as "nothing to do".
    @Test(arguments: [
        (["audit", "verify", "--structure", "typo"], "no structure typo"),
        (["outbox", "export", "--format", "jsonl", "--to", "OUT", "--structure", "typo"], "no structure typo"),
        (["outbox", "list", "--structure", "typo"], "no structure typo"),
        (["queue", "list", "--structure", "typo"], "no structure typo"),
        (["queue", "stats", "--structure", "typo"], "no structure typo"),
        (["queue", "retry", "--all-failed", "--structure", "typo"], "no structure typo"),
        (["queue", "retry", "VLF-9999"], "no dossier VLF-9999"),
        (["dossiers", "purge", "--returned-before", "2026-01-01", "--structure", "typo"], "no structure typo"),
        (["structures", "retention", "typo", "--days", "30"], "no structure typo"),
        (["rights", "open", "--structure", "typo", "--period", "2026-2027"], "no structure typo"),
        (["rights", "open", "--structure", "villefranche", "--period", "typo"], "has no period typo"),
        (["rights", "open", "--structure", "villefranche", "--period", "2026-2027", "--service", "typo"], "has no service typo"),
        (["decide", "VLF-9999", "approve", "--by", "alice"], "no dossier VLF-9999"),
        (["decide", "VLF-0001", "approve", "--by", "alice", "--structure", "typo"], "no structure typo"),
        (["decide", "approve", "--all-awaiting", "--structure", "typo", "--by", "alice"], "no structure typo"),
        (["dossier", "show", "VLF-9999"], "no dossier VLF-9999"),
        (["planning", "show", "--child", "VLF-9999/1", "--month", "2026-12"], "VLF-9999/1"),
        (["reservations", "add", "--child", "VLF-9999/1", "--service", "cantine", "--date", "2026-12-01"], "VLF-9999/1"),
        (["templates", "preview", "dossier-processed", "--dossier", "VLF-9999"], "no dossier VLF-9999"),
    ])
    func anUnknownNameIsBadInputNamedInEveryCommand(_ arguments: [String], _ reason: String) throws {
        let conninfo = try TestDatabases.shared().create()
        try CLI.succeed(["db", "migrate"], database: conninfo)
        try CLI.succeed(["structures", "apply", "\(CLI.examples)/structures.json"], database: conninfo)
        let output = TestFiles.directory.appendingPathComponent("unknown-\(UUID().uuidString).jsonl").path
        let result = try CLI.run(arguments.map { $0 == "OUT" ? output : $0 } + ["--database-url", conninfo])
        #expect(result.status == 3, "\(arguments): \(result.status) \(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains(reason), "\(arguments): \(result.stderr)")
    }

    /// An address with a line break (a header injection) is refused like any contract violation:
    /// file, line and JSON path on stderr, exit 3; and even at trace level nothing on stderr
    /// shows the address.
    @Test func anAddressWithALineBreakIsRefusedAtImportWithoutATraceOfIt() throws {
        let conninfo = try TestDatabases.shared().create()
        try CLI.succeed(["db", "migrate"], database: conninfo)
        try CLI.succeed(["structures", "apply", "\(CLI.examples)/structures.json"], database: conninfo)
        let example = try String(contentsOfFile: "\(CLI.examples)/dossiers.jsonl", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let hostile = example[0].replacingOccurrences(
            of: "claire.martin@example.org", with: #"victim@example.org\r\nBcc: everyone@example.net"#)
        try #require(hostile != example[0])
        let path = TestFiles.directory.appendingPathComponent("hostile-\(UUID().uuidString).jsonl").path
        try Data(([example[1], hostile]).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))

        let result = try CLI.run(["dossiers", "import", path, "--log-level", "trace", "--database-url", conninfo])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("\(path):2: $.account.email: is not a valid email address"), "\(result.stderr)")
        for trace in ["victim", "Bcc", "everyone@"] {
            #expect(!result.stderr.contains(trace), "stderr shows \(trace): \(result.stderr)")
        }
        #expect(result.stdout.contains("1 new"))
    }
}
