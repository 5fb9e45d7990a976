internal import CProcessControl
import Foundation
import Logging

/// Runs N worker processes and restarts one that dies, within a limit.
///
/// Each worker is this same executable, started with `arguments`. On shutdown the supervisor
/// passes SIGTERM on and waits for every worker to finish its batch.
public struct Supervisor {
    public var processes: Int
    public var arguments: [String]
    /// Restarts allowed in total before the supervisor gives up and stops everything.
    var maxRestarts: Int
    let logger: Logger

    public init(processes: Int, arguments: [String], maxRestarts: Int = 10, logger: Logger) {
        self.processes = processes
        self.arguments = arguments
        self.maxRestarts = maxRestarts
        self.logger = logger
    }

    /// Runs until shutdown (exit status 0) or until workers died too often (status 1).
    ///
    /// Synchronous on purpose: the kernel ties a worker's parent-death signal to the *thread* that
    /// started it, so every worker is started from this one loop, which lasts as long as they do.
    public func run(until shutdown: ShutdownSignal) -> Int32 {
        var workers: [WorkerProcess] = []
        var restarts = 0
        do {
            for _ in 0..<processes { workers.append(try start()) }
        } catch {
            logger.error("cannot start a worker process", metadata: ["error": "\(error)"])
            stop(workers)
            return 1
        }
        while !shutdown.isRequested {
            Thread.sleep(forTimeInterval: 0.2)
            for (index, worker) in workers.enumerated() where !worker.isRunning {
                logger.warning("worker process ended", metadata: ["pid": "\(worker.pid)", "status": "\(worker.ending)"])
                guard restarts < maxRestarts, let replacement = try? start() else {
                    logger.error("worker processes keep dying; stopping", metadata: ["restarts": "\(restarts)"])
                    stop(workers)
                    return 1
                }
                restarts += 1
                workers[index] = replacement
            }
        }
        stop(workers)
        return 0
    }

    private func start() throws -> WorkerProcess {
        var environment = ProcessInfo.processInfo.environment
        environment[Self.supervisorVariable] = String(getpid())
        let worker = try WorkerProcess(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, arguments: arguments,
            environment: environment)
        logger.info("worker process started", metadata: ["pid": "\(worker.pid)"])
        return worker
    }

    /// Names the supervisor's process id in each worker's environment.
    static let supervisorVariable = "ETICKET_SUPERVISOR_PID"

    /// In a supervised worker: ties this process's life to its supervisor's.
    ///
    /// The kernel SIGKILLs the worker when the supervisor ends, however it ends (a SIGKILL or an
    /// OOM kill included), so that no worker goes on under PID 1 beside the supervisor's
    /// replacement. SIGKILL rather than SIGTERM: the batch in hand rolls back and is decided again
    /// by the replacement's workers, which is what its transaction is for, and a worker stuck in a
    /// wait cannot outlive its supervisor. A supervisor that ended before this call is seen by the
    /// parent id having changed: then the worker exits at once.
    ///
    /// Does nothing in a process that no supervisor started.
    public static func bindToSupervisor(logger: Logger) {
        guard let value = ProcessInfo.processInfo.environment[supervisorVariable], let supervisor = pid_t(value) else { return }
        if eticket_set_parent_death_signal(SIGKILL) != 0 {
            logger.warning("cannot tie this worker to its supervisor", metadata: ["errno": "\(errno)"])
        }
        if getppid() != supervisor {
            logger.error("the supervisor that started this worker is gone: exiting", metadata: ["supervisor": "\(supervisor)"])
            exit(1)
        }
    }

    private func stop(_ workers: [WorkerProcess]) {
        for worker in workers where worker.isRunning { kill(worker.pid, SIGTERM) }
        for worker in workers { worker.waitUntilExit() }
    }
}

/// One worker process, started with `posix_spawn` rather than Foundation's `Process`.
///
/// Two things `Process` cannot do: the worker must start with SIGTERM and SIGINT at their default
/// action (the supervisor ignores them for its own signal sources, and an ignored signal stays
/// ignored across `exec`, so a worker told to stop while still starting would never hear it), and
/// the spawn must happen on the calling thread (see ``Supervisor/run(until:)``).
final class WorkerProcess {
    let pid: pid_t
    /// How it ended, once ``isRunning`` has seen it end.
    private(set) var ending: String = "running"
    private var reaped = false

    init(executable: String, arguments: [String], environment: [String: String]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, executable, nil, &attributes, argv, envp)
        guard status == 0 else {
            throw BackOfficeError(.failure, "cannot start a worker process: \(String(cString: strerror(status)))")
        }
        self.pid = pid
    }

    /// Whether it still runs; reaps it once it has ended.
    var isRunning: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return true }
        record(status)
        return false
    }

    func waitUntilExit() {
        guard !reaped else { return }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        record(status)
    }

    private func record(_ status: Int32) {
        reaped = true
        // The <sys/wait.h> macros are not visible from Swift: low 7 bits the signal, next 8 the code.
        let signal = status & 0x7F
        ending = signal == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(signal)"
    }
}
