import Logging
import Postgres

/// The seam the benchmark (ETicketBench) drives a worker through: its depth test runs worker
/// loops on threads of its own, on connections of its own, and stops them at a count of its own.
extension Worker {
    /// A worker that renders the families' emails through `outbox`.
    package convenience init(configuration: WorkerConfiguration, outbox: EmailOutbox, logger: Logger) {
        self.init(configuration: configuration, notifier: outbox, logger: logger)
    }

    /// One batch (see ``processBatch(on:)``): `nil` when nothing was due.
    package func processNextBatch(on connection: Connection) throws -> BatchSummary? {
        try processBatch(on: connection)
    }
}
