import Foundation

/// Where a test process writes its files: one directory per process, removed when it exits, so
/// that test runs do not leave thousands of files behind in the system's temporary directory.
public enum TestFiles {
    /// `$TMPDIR/eticket-tests-<pid>`, created on first use.
    public static let directory: URL = {
        let directory = URL(fileURLWithPath: path(for: getpid()))
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestFiles.path(for: getpid())) }
        return directory
    }()

    static func path(for pid: pid_t) -> String {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("eticket-tests-\(pid)").path
    }
}
