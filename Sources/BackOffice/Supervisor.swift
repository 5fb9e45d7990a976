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
    public var maxRestarts: Int
    let logger: Logger

    public init(processes: Int, arguments: [String], maxRestarts: Int = 10, logger: Logger) {
        self.processes = processes
        self.arguments = arguments
        self.maxRestarts = maxRestarts
        self.logger = logger
    }

    /// Runs until shutdown (exit status 0) or until workers died too often (status 1).
    public func run(until shutdown: ShutdownSignal) -> Int32 {
        var workers: [Process] = []
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
                logger.warning(
                    "worker process ended", metadata: ["pid": "\(worker.processIdentifier)", "status": "\(worker.terminationStatus)"])
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

    private func start() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        try process.run()
        logger.info("worker process started", metadata: ["pid": "\(process.processIdentifier)"])
        return process
    }

    private func stop(_ workers: [Process]) {
        for worker in workers where worker.isRunning { kill(worker.processIdentifier, SIGTERM) }
        for worker in workers { worker.waitUntilExit() }
    }
}
