import Foundation
import TestSupport
import Testing

/// `eticket bench` is `eticket-bench`, a separate executable that the shipped eticket does not
/// link: eticket finds it and replaces itself with it, arguments, help and exit status included.
@Suite("eticket bench runs eticket-bench")
struct BenchForwardingTests {
    static let benchBinary = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("eticket-bench").path

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
