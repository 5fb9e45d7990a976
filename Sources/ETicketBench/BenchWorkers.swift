import BackOffice
import Foundation
import Logging
import Synchronization

/// Runs `body(index)` on `count` threads of their own and waits for all of them.
///
/// libpq blocks, so each benchmark connection gets a plain thread rather than a task.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            body(index)
            group.leave()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    group.wait()
}

/// How the benchmark runs its workers.
package enum BenchWorkerMode: Sendable {
    /// `eticket worker … --processes 1` children of this executable: the product as deployed.
    case processes(executable: String)
    /// Worker loops on threads of this process (for the tests, which have no `eticket` binary).
    case threads
}

/// A set of running workers and what they cost.
final class BenchWorkerSet {
    private var processes: [Process] = []
    private var threadShutdown: [ShutdownSignal] = []
    private let threadsDone = DispatchGroup()
    private let firstError = FirstError()
    /// VmHWM of each worker process, in kB, sampled while it runs.
    private(set) var peakRSSKiB: [Int] = []

    /// Starts `count` workers.
    ///
    /// - Parameters:
    ///   - once: drain what is due and exit (`--once`), or wait for work until stopped.
    static func start(
        _ count: Int, mode: BenchWorkerMode, conninfo: String, batchSize: Int, once: Bool,
        templatesDirectory: String?, logger: Logger
    ) throws -> BenchWorkerSet {
        let set = BenchWorkerSet()
        set.peakRSSKiB = Array(repeating: 0, count: count)
        switch mode {
        case .processes(let executable):
            for _ in 0..<count {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments =
                    ["worker", "--processes", "1", "--batch-size", "\(batchSize)", "--log-level", "warning"]
                    + (once ? ["--once"] : ["--poll-interval", "60"])
                var environment = ProcessInfo.processInfo.environment
                // The conninfo may hold a password: hand it over in the environment, not argv.
                environment["ETICKET_DATABASE_URL"] = conninfo
                if let templatesDirectory { environment["ETICKET_TEMPLATES_DIRECTORY"] = templatesDirectory }
                process.environment = environment
                process.standardOutput = FileHandle.nullDevice
                try process.run()
                set.processes.append(process)
            }
        case .threads:
            let outbox = try EmailOutbox(directory: templatesDirectory)
            let templates = outbox.templates
            for _ in 0..<count {
                let shutdown = ShutdownSignal()
                set.threadShutdown.append(shutdown)
                set.threadsDone.enter()
                let firstError = set.firstError
                let done = set.threadsDone
                var configuration = WorkerConfiguration()
                configuration.batchSize = batchSize
                configuration.pollInterval = .seconds(60)
                let thread = Thread { [configuration] in
                    defer { done.leave() }
                    let runner = WorkerRunner(
                        conninfo: conninfo, configuration: configuration, outbox: EmailOutbox(templates: templates),
                        logger: logger)
                    if once {
                        do { _ = try runner.drain(shutdown: shutdown) } catch {
                            firstError.record(error)
                        }
                    } else {
                        runner.run(until: shutdown)
                    }
                }
                thread.start()
            }
        }
        return set
    }

    /// Samples the workers' peak RSS until they have all exited (for `once` workers).
    func wait() throws {
        if processes.isEmpty {
            threadsDone.wait()
            if let error = firstError.value { throw BackOfficeError(.failure, "a benchmark worker failed: \(error)") }
            return
        }
        while processes.contains(where: \.isRunning) {
            sample()
            Thread.sleep(forTimeInterval: 0.02)
        }
        for process in processes {
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw BackOfficeError(.failure, "a benchmark worker process exited with status \(process.terminationStatus)")
            }
        }
    }

    /// Stops waiting workers (SIGTERM: they finish the batch in hand) and waits for them.
    func stop() {
        for signal in threadShutdown { _ = signal.request() }
        for process in processes where process.isRunning {
            sample()
            kill(process.processIdentifier, SIGTERM)
        }
        if processes.isEmpty { threadsDone.wait() }
        for process in processes { process.waitUntilExit() }
    }

    /// Reads VmHWM (the resident set's high-water mark) of each running worker process.
    func sample() {
        for (index, process) in processes.enumerated() where process.isRunning {
            if let peak = Self.peakRSS(pid: process.processIdentifier) {
                peakRSSKiB[index] = max(peakRSSKiB[index], peak)
            }
        }
    }

    static func peakRSS(pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }
}

/// The first error of several threads.
final class FirstError: Sendable {
    private let slot = Mutex<String?>(nil)

    func record(_ error: any Error) {
        slot.withLock { $0 = $0 ?? "\(error)" }
    }

    var value: String? { slot.withLock { $0 } }
}

/// A count shared by several threads.
final class BenchCounter: Sendable {
    private let count = Atomic<Int>(0)

    func add(_ amount: Int) {
        count.add(amount, ordering: .relaxed)
    }

    var value: Int { count.load(ordering: .relaxed) }
}
