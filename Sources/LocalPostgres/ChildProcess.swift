import Foundation

/// A child process started with `posix_spawn`, waited for with `waitpid`.
///
/// Not Foundation's `Process`: a server that outlives a call must not hold the parent's pipes
/// (a waiter on those pipes would hang), so the child gets `/dev/null` as stdin, a log file as
/// stdout and stderr, and none of the parent's other descriptors.
package struct ChildProcess: Sendable {
    package let pid: pid_t

    /// Starts `executable`.
    /// - Parameters:
    ///   - executable: Absolute path of the program.
    ///   - arguments: Its arguments, without the program name.
    ///   - logPath: File that receives stdout and stderr (appended, created if needed).
    /// - Throws: ``LocalPostgresError`` with code `system` when the process cannot be created.
    package static func spawn(_ executable: String, _ arguments: [String], logPath: String) throws(LocalPostgresError)
        -> ChildProcess
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // O_NOFOLLOW: as root, the cluster directory belongs to postgres, who could plant a link here.
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Closing a descriptor that is gone by then is harmless: glibc ignores EBADF here.
        for descriptor in openDescriptors() where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        // A test runner may block or ignore signals; the server must still obey SIGINT.
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment =
            ProcessInfo.processInfo.environment
            .filter { !$0.key.hasPrefix("PG") }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }

        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environment)
        guard status == 0 else {
            throw LocalPostgresError(
                code: .system, message: "could not start \(executable): \(String(cString: strerror(status)))")
        }
        return ChildProcess(pid: pid)
    }

    /// Waits for the process to end.
    /// - Returns: Its exit code, or 128 + the signal that killed it.
    @discardableResult
    package func waitForExit() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return Self.exitCode(status)
    }

    /// The exit code if the process has ended (reaping it), `nil` while it runs.
    func exitCodeIfEnded() -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        if result < 0 { return errno == ECHILD ? -1 : nil }
        return Self.exitCode(status)
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    private static func openDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }
    }
}
