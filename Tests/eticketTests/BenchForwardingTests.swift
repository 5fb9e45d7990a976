import Foundation
import TestSupport
import Testing

/// `eticket bench` is `eticket-bench`, a separate executable that the shipped eticket does not
/// link: eticket finds it and replaces itself with it, arguments, help and exit status included.
@Suite("eticket bench runs eticket-bench")
struct BenchForwardingTests {
    static let benchBinary = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("eticket-bench")
        .path

    @Test func theHelpIsTheBenchmarksOwn() throws {
        let help = try CLI.run(["bench", "--help"], timeout: 60)
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("USAGE: eticket-bench"), "\(help.stdout)")
        #expect(help.stdout.contains("--dossiers"), "\(help.stdout)")
    }

    @Test func aUsageErrorExitsWithTheBenchmarksStatus() throws {
        let refused = try CLI.run(["bench", "--workers", "0"], timeout: 60)
        #expect(refused.status == 2 && !refused.signaled)
        #expect(refused.stderr.contains("--workers"), "\(refused.stderr)")
    }

    @Test(arguments: [(["--shared-buffers", "12XB"], "a number with kB, MB, GB or TB (512MB, 1GB), not '12XB'")])
    func aSharedBuffersSizePostgreSQLWouldRefuseIsAUsageError(arguments: [String], message: String) throws {
        let refused = try CLI.run(["bench"] + arguments, timeout: 60)
        #expect(refused.status == 2 && !refused.signaled)
        #expect(refused.stderr.contains(message), "\(refused.stderr)")
    }

    @Test func sharedBuffersIsTheThrowAwayClustersOnly() throws {
        let conninfo = try TestDatabases.shared().create()
        let refused = try CLI.run(
            ["bench", "--dossiers", "10", "--shared-buffers", "256MB", "--database-url", conninfo], timeout: 60)
        #expect(refused.status != 0 && !refused.signaled)
        #expect(refused.stderr.contains("set shared_buffers on that server"), "\(refused.stderr)")
    }

    /// The throw-away cluster takes the size asked for, else a quarter of the memory between
    /// PostgreSQL's 128 MB default and 1 GB; the report says which.
    @Test(arguments: [["--shared-buffers", "160MB"], []])
    func theThrowAwayClusterHasTheSharedBuffersAskedFor(arguments: [String]) throws {
        let limit = (try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8))
            .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let quarter = min(ProcessInfo.processInfo.physicalMemory, limit ?? .max) / 4 / (1 << 20)
        let expected = arguments.last ?? "\(min(max(quarter, 128), 1024))MB"
        let run = try CLI.run(
            ["bench", "--dossiers", "10", "--latency-samples", "0", "--no-baseline", "--format", "json"] + arguments,
            timeout: 300)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let database = report?["database"] as? [String: Any]
        // PostgreSQL shows a size in its largest whole unit: 1024MB is 1GB.
        let shown = (database?["shared_buffers"] as? String).map { $0 == "1GB" ? "1024MB" : $0 }
        #expect(shown == expected, "\(database ?? [:])")
    }

    /// eticket execs eticket-bench rather than running it as a child: the process its caller
    /// started becomes the benchmark, so a signal sent to it reaches the benchmark, and the caller
    /// sees it end by that signal.
    @Test func aSignalReachesTheBenchmarkItself() throws {
        let conninfo = try TestDatabases.shared().create()
        // The killed benchmark cannot remove its generated files: they go here, and this goes.
        let scratch = TestFiles.directory.appendingPathComponent("bench-killed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let child = try Child(
            ["bench", "--dossiers", "1000000", "--latency-samples", "0", "--no-baseline", "--database-url", conninfo],
            environment: ["TMPDIR": scratch.path])
        defer { child.kill() }
        let executable = "/proc/\(child.pid)/exe"
        // A child process would leave this pid eticket: give up on that state after a minute.
        let deadline = ContinuousClock.now + .seconds(60)
        while child.isRunning,
            (try? FileManager.default.destinationOfSymbolicLink(atPath: executable))?.hasSuffix("/eticket-bench") != true
        {
            guard ContinuousClock.now < deadline else {
                Issue.record("the process eticket bench started never became eticket-bench")
                return
            }
            usleep(1_000)
        }
        child.signal(SIGTERM)
        let result = child.wait(timeout: 60)
        #expect(result.signaled && result.status == SIGTERM, "exited \(result.status): \(result.stderr)")
    }

    /// The Debian package's layout (eticket alone in its directory, no eticket-bench on PATH), and
    /// `swift run eticket`, which builds eticket alone in `.build/debug`.
    @Test(arguments: [
        ("bin", "Build it from a source checkout: swift build -c release --product eticket-bench"),
        ("debug", "Build it beside this eticket: swift build -c debug --product eticket-bench."),
    ])
    func withoutEticketBenchItSaysHowToBuildIt(directory: String, advice: String) throws {
        let bin = TestFiles.directory.appendingPathComponent("bench-absent-\(UUID().uuidString)/\(directory)")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let eticket = bin.appendingPathComponent("eticket").path
        try FileManager.default.copyItem(atPath: CLI.binary, toPath: eticket)
        let result = try Child(["bench", "--dossiers", "10"], environment: ["PATH": "/usr/bin:/bin"], executable: eticket)
            .wait(timeout: 60)
        #expect(result.status == 1 && !result.signaled)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("eticket-bench, which is not installed beside \(eticket) nor on PATH"), "\(result.stderr)")
        #expect(result.stderr.contains(advice), "\(result.stderr)")
    }

    /// Swift keeps each linked module's name in the binary's type metadata, stripped or not: a
    /// module whose name is absent contributed no type. eticket-bench is the control that the
    /// method sees a linked module.
    @Test func eticketLinksNoBenchmarkOrTestCode() throws {
        let eticket = try Data(contentsOf: URL(fileURLWithPath: CLI.binary))
        let bench = try Data(contentsOf: URL(fileURLWithPath: Self.benchBinary))
        #expect(bench.range(of: Data("ETicketBench".utf8)) != nil, "the method no longer sees module names")
        #expect(eticket.range(of: Data("BackOffice".utf8)) != nil, "the method no longer sees module names")
        for module in ["ETicketBench", "TestSupport", "SMTPTestRelay", "SeededGenerator"] {
            #expect(eticket.range(of: Data(module.utf8)) == nil, "eticket links \(module)")
        }
    }
}
