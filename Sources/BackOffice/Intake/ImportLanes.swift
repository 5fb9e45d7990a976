import Dispatch
import Logging
import Postgres
import Synchronization

/// Stores an import's batches on several connections at once, while the caller parses the next
/// lines: the import's time is mostly PostgreSQL's, and one backend uses one core.
///
/// Each batch is its own transaction on one connection, as with a single connection; only the
/// order in which batches commit (and report) is no longer the file's. With one connection the
/// batch is stored on the caller's thread.
final class ImportLanes: Sendable {
    /// A batch's outcome, with the lines read when it was handed over (for progress).
    struct Completed: Sendable {
        var outcome: Result<IntakeOutcome, any Error>
        var linesRead: Int
    }

    /// A connection that a single thread uses at a time: the lane is taken from `idle` before
    /// use and put back after, so no two threads ever hold it together.
    private final class Lane: @unchecked Sendable {
        let connection: Connection
        init(_ connection: Connection) { self.connection = connection }
    }

    private let lanes: [Lane]
    private let logger: Logger
    private let idle: Mutex<[Lane]>
    private let free: DispatchSemaphore
    private let running = DispatchGroup()
    private let completed = Mutex<[Completed]>([])

    init(connections: [Connection], logger: Logger) {
        precondition(!connections.isEmpty, "an import needs a connection")
        lanes = connections.map(Lane.init)
        self.logger = logger
        idle = Mutex(lanes)
        free = DispatchSemaphore(value: lanes.count)
    }

    /// Stores `batch` on the next free connection, waiting while every connection is busy.
    func submit(_ batch: [DossierImporter.IntakeLine], linesRead: Int) {
        guard lanes.count > 1 else {
            let outcome = Result { try DossierImporter.store(batch, on: lanes[0].connection, logger: logger) }
            completed.withLock { $0.append(Completed(outcome: outcome, linesRead: linesRead)) }
            return
        }
        free.wait()
        let lane = idle.withLock { $0.removeLast() }
        running.enter()
        DispatchQueue.global().async { [self] in
            let outcome = Result { try DossierImporter.store(batch, on: lane.connection, logger: logger) }
            completed.withLock { $0.append(Completed(outcome: outcome, linesRead: linesRead)) }
            idle.withLock { $0.append(lane) }
            free.signal()
            running.leave()
        }
    }

    /// The batches finished since the last call, in the order they finished.
    func takeCompleted() -> [Completed] {
        completed.withLock { finished in
            defer { finished.removeAll() }
            return finished
        }
    }

    /// Waits for every batch handed over, then returns those not yet taken.
    func finish() -> [Completed] {
        running.wait()
        return takeCompleted()
    }
}
