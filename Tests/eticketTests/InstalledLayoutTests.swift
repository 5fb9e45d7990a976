import Foundation
import TestSupport
import Testing

/// The binary finds its migrations, templates and configuration from where it is installed
/// (`BIN/../share/eticket`, `ROOT/etc/eticket/config.json`), without `ETICKET_HOME`, and never
/// from a checkout or the system when it runs from a staging root.
@Suite("Installed layout", .tags(.e2e))
struct InstalledLayoutTests {
    /// `ROOT/usr/bin/eticket` (a copy of the built binary) beside a `usr/share/eticket` of its own.
    static func stagingRoot(migrations: [String]) throws -> URL {
        let root = TestFiles.directory.appendingPathComponent("staging-\(UUID().uuidString)")
        let files = FileManager.default
        let share = root.appendingPathComponent("usr/share/eticket")
        try files.createDirectory(at: root.appendingPathComponent("usr/bin"), withIntermediateDirectories: true)
        try files.createDirectory(at: share.appendingPathComponent("sql"), withIntermediateDirectories: true)
        try files.createDirectory(at: share.appendingPathComponent("config"), withIntermediateDirectories: true)
        try files.copyItem(atPath: CLI.binary, toPath: root.appendingPathComponent("usr/bin/eticket").path)
        for name in migrations {
            try Data("SELECT 1;\n".utf8).write(to: share.appendingPathComponent("sql/\(name)"))
        }
        try files.copyItem(
            at: CLI.root.appendingPathComponent("config/templates"), to: share.appendingPathComponent("config/templates"))
        return root
    }

    @Test func theStagedBinaryReadsItsOwnShareAndEtc() throws {
        let root = try Self.stagingRoot(migrations: ["001_first.sql", "042_staged.sql"])
        let binary = root.appendingPathComponent("usr/bin/eticket").path
        // From /, without ETICKET_HOME: neither the checkout nor the current directory is found.
        let version = try Child(["--version"], executable: binary, unset: ["ETICKET_HOME"], in: "/").wait(timeout: 60)
        #expect(version.stdout.hasSuffix("(schema 42)\n"), "\(version.stdout) \(version.stderr)")

        let check = try Child(["templates", "check"], executable: binary, unset: ["ETICKET_HOME"], in: "/").wait(timeout: 60)
        #expect(check.status == 0, "\(check.stderr)")

        // ROOT/etc/eticket/config.json is the default configuration of a binary in ROOT/usr/bin.
        let etc = root.appendingPathComponent("etc/eticket")
        try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
        try Data(#"{"templates": {"directory": "/nonexistent/templates"}}"#.utf8).write(
            to: etc.appendingPathComponent("config.json"))
        let configured = try Child(["templates", "check"], executable: binary, unset: ["ETICKET_HOME"], in: "/").wait(timeout: 60)
        #expect(configured.status != 0)
        #expect(configured.stderr.contains("/nonexistent/templates"), "\(configured.stderr)")
        let overridden = try Child(
            ["templates", "check"], environment: ["ETICKET_CONFIG": "/dev/null/none"], executable: binary,
            unset: ["ETICKET_HOME"], in: "/"
        ).wait(timeout: 60)
        #expect(overridden.stderr.contains("/dev/null/none: no such configuration file"), "\(overridden.stderr)")
    }

    @Test func aBinaryCalledThroughPATHStillFindsItsShare() throws {
        let root = try Self.stagingRoot(migrations: ["007_seven.sql"])
        let bin = root.appendingPathComponent("usr/bin").path
        // argv[0] is the bare name: the share is found from /proc/self/exe, not from argv[0].
        let result = try Child(
            ["-c", "exec eticket --version"], environment: ["PATH": "\(bin):/usr/bin:/bin"], executable: "/bin/sh",
            unset: ["ETICKET_HOME"], in: "/"
        ).wait(timeout: 60)
        #expect(result.stdout.hasSuffix("(schema 7)\n"), "\(result.stdout) \(result.stderr)")
    }
}
