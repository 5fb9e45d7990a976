import Foundation
import Logging
import Mail
import Postgres

/// What an export wrote.
public struct ExportReport: Sendable, Equatable {
    public var exported = 0
    public var path: String
    public var format: OutboxFormat
    /// The rows that could not be rendered (a template set that does not load, particulars that
    /// are not what 029 writes): skipped and left pending, each logged with its reason.
    public var unrenderable: [Int64] = []
}

/// One row of the outbox, for administrators.
public struct OutboxEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var dossier: String
    public var structure: String
    public var kind: String
    var recipient: String
    public var subject: String
    public var createdAt: Date
    public var exportedAt: Date?
    public var delivery: EmailDelivery
}

/// A message to export: its row id, and the message rendered.
private struct Pending {
    var id: Int64
    var message: OutboxMessage
}

/// The rows of one read: those rendered, and the last id read (`nil`: none left).
private struct ReadBatch {
    var pending: [Pending] = []
    var lastReadID: Int64?
}

/// Exports the outbox for the mail relay, each message exactly once.
///
/// A batch is locked, written by the format's writer (durably: synced and renamed, or appended
/// under a commit marker) and only then marked exported, in one transaction. A crash before the
/// mark leaves the rows pending; the rerun writes them again under the same names (the writers
/// skip or overwrite what is already there), so every message appears once.
///
/// The content of the next batch is read while the writer writes the current one, in the
/// current batch's transaction but without locks. That read is only a cache: outbox rows never
/// change once inserted (only `exported_at` is set, by an export; a purge deletes them). The next
/// batch's own transaction then locks those ids (`FOR UPDATE SKIP LOCKED`) and checks again that
/// they are still to export; only the rows it locked are written and marked. So what is written is
/// always a row this transaction holds and finds pending, as when the read and the lock were one
/// statement, and the mark still follows the durable write in the same transaction.
public struct OutboxExporter {
    let connection: Connection
    let logger: Logger

    /// Which rows to export.
    public struct Selection: Sendable {
        public var structure: String?
        public var limit: Int?
        /// Export again what was already exported since this time, on purpose.
        public var againSince: Date?

        public init(structure: String? = nil, limit: Int? = nil, againSince: Date? = nil) {
            self.structure = structure
            self.limit = limit
            self.againSince = againSince
        }
    }

    /// Messages written and marked per transaction. Each batch costs a few fixed waits (a syncfs
    /// and a directory fsync for a Maildir, a WAL flush at commit): 2,000 messages (about 8 MB)
    /// spread them thinly.
    public static let defaultBatchSize = 2_000

    /// Writes the selected messages to `path` in `format`, in batches of `batchSize`.
    ///
    /// - Parameter onProgress: called after each batch with (exported so far, total to export).
    public func export(
        to path: String, format: OutboxFormat, selection: Selection = .init(), batchSize: Int = defaultBatchSize,
        onProgress: (Int, Int) -> Void = { _, _ in }
    ) throws -> ExportReport {
        try export(
            to: path, format: format, selection: selection, batchSize: batchSize, reconnection: nil, onProgress: onProgress)
    }

    /// As ``export(to:format:selection:batchSize:onProgress:)``; with `reconnection`, a connection
    /// lost (or left after a wait past its bound) is replaced and the export goes on from the rows
    /// still pending: what was written and not marked is written again under the same names,
    /// which the writers skip.
    func export(
        to path: String, format: OutboxFormat, selection: Selection, batchSize: Int, reconnection: Reconnection?,
        shutdown: ShutdownSignal? = nil, onProgress: (Int, Int) -> Void
    ) throws -> ExportReport {
        try requireStructure(selection.structure, on: connection)
        let writer: any OutboxWriter
        do {
            writer = try makeOutboxWriter(format, path: path)
        } catch {
            throw BackOfficeError(.failure, "cannot write to \(path): \(error)", underlying: error)
        }
        var report = ExportReport(path: path, format: format)
        var connection = self.connection
        var losses = 0
        while true {
            do {
                try exportBatches(
                    on: connection, writer: writer, selection: selection, batchSize: batchSize, report: &report,
                    onProgress: onProgress)
                break
            } catch let error where error.isConnectionLoss && reconnection != nil && losses < 10 {
                guard let reconnection else { throw error }
                losses += 1
                reconnection.leave(connection, after: error, what: "outbox export", shutdown: shutdown)
                connection = try reconnection.connectPatiently(losses: &losses, what: "outbox export", shutdown: shutdown)
            }
        }
        logger.info("outbox exported", metadata: ["count": "\(report.exported)", "format": "\(format.rawValue)"])
        return report
    }

    /// The batches of one connection; `report` counts across connections.
    private func exportBatches(
        on connection: Connection, writer: any OutboxWriter, selection: Selection, batchSize: Int,
        report: inout ExportReport, onProgress: (Int, Int) -> Void
    ) throws {
        let path = report.path
        let total =
            report.exported
            + (try database("cannot count the outbox") {
                try refreshStatistics(on: connection, batchSize: batchSize)
                return try OutboxStore(connection: connection).count(selection)
            })
        let exportedBefore = report.exported
        let renderer = EmailRenderer()
        var unrenderable: [Int64] = []
        defer { report.unrenderable += unrenderable }
        /// The next rows after `lastID`, rendered; a row that cannot be is logged and skipped. The
        /// cursor is the last row read, rendered or not: a batch of unrenderable rows does not end
        /// the export.
        func read(after lastID: Int64, limit: Int, on connection: Connection) throws -> ReadBatch {
            let emails = try OutboxStore(connection: connection).read(selection, after: lastID, limit: limit)
            let pending = try zip(emails, renderer.render(emails, on: connection)).compactMap { email, rendered -> Pending? in
                do {
                    return Pending(
                        id: email.id,
                        message: OutboxMessage(id: String(email.id), email: try rendered.get(), createdAt: email.createdAt))
                } catch let error as UnrenderableEmail {
                    logger.error("email cannot be rendered", metadata: ["email_id": "\(email.id)", "error": "\(error.reason)"])
                    unrenderable.append(email.id)
                    return nil
                }
            }
            return ReadBatch(pending: pending, lastReadID: emails.last?.id)
        }
        /// The size of the batch after `done` messages are exported.
        func size(after done: Int) -> Int { max(0, min(batchSize, (selection.limit ?? Int.max) - done)) }
        var next = try database("cannot read the outbox") {
            try read(after: 0, limit: size(after: exportedBefore), on: connection)
        }
        while let lastRead = next.lastReadID {
            let candidates = next.pending
            try database("cannot export the outbox") { try OutboxStore(connection: connection).fence() }
            let exported = report.exported
            let written = try database("cannot export the outbox") {
                try connection.transaction { connection in
                    let store = OutboxStore(connection: connection)
                    let locked = try store.lock(candidates.map(\.id), selection)
                    let batch = candidates.filter { locked.contains($0.id) }
                    let writing = batch.isEmpty ? nil : BackgroundWrite(writer, batch.map(\.message))
                    // Read the next batch while this one is written; wait for the writer whatever
                    // the read does.
                    let more = size(after: exported + batch.count)
                    let prefetched = Result {
                        more > 0 ? try read(after: lastRead, limit: more, on: connection) : ReadBatch()
                    }
                    do {
                        try writing?.wait()
                    } catch {
                        throw BackOfficeError(.failure, "cannot write to \(path): \(error)", underlying: error)
                    }
                    next = try prefetched.get()
                    // Only now, with the files durable, are the rows marked (committed on return).
                    if !batch.isEmpty { try store.markExported(batch.map(\.id)) }
                    return batch.count
                }
            }
            guard written > 0 else { continue }
            report.exported += written
            onProgress(report.exported, min(total, selection.limit ?? total))
        }
    }

    /// Refreshes the outbox's statistics when the planner underestimates the backlog (036), so
    /// that the batches are read in order. Best effort: a login that may not (a role of the
    /// operator's own, not batch or admin) is told in the log, and the export goes on with the plan
    /// it would have had.
    private func refreshStatistics(on connection: Connection, batchSize: Int) throws {
        do {
            try OutboxStore(connection: connection).refreshStatistics(batchSize: batchSize)
        } catch let error as PostgresError where error.sqlState == "42501" {
            logger.notice(
                "outbox statistics not refreshed: this role may not call refresh_outbox_statistics(integer)",
                metadata: ["sqlstate": "42501"])
        }
    }

    /// The outbox, newest first.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func list(structure: String? = nil, pendingOnly: Bool = false, limit: Int = 100) throws -> [OutboxEntry] {
        try requireStructure(structure, on: connection)
        let renderer = EmailRenderer()
        return try database("cannot list the outbox") {
            try OutboxStore(connection: connection).list(.init(structure: structure, pendingOnly: pendingOnly, limit: limit))
                .map { entry, email in
                    var entry = entry
                    do {
                        entry.subject = try renderer.render(email, on: connection).subject
                    } catch is UnrenderableEmail {
                        entry.subject = "(cannot be rendered: outbox show \(email.id) says why)"
                    }
                    return entry
                }
        }
    }

    /// The exact bytes of one message.
    public func message(id: Int64) throws -> [UInt8] {
        try database("cannot read the outbox") {
            guard let email = try OutboxStore(connection: connection).email(id: id) else {
                throw BackOfficeError(.notFound, "no outbox message \(id)")
            }
            do {
                return try EmailRenderer().render(email, on: connection).bytes
            } catch let error as UnrenderableEmail {
                throw BackOfficeError(.failure, error.description)
            }
        }
    }
}

extension Administration {
    public var outbox: OutboxExporter { OutboxExporter(connection: connection, logger: logger) }

    /// The export as `eticket outbox export` runs it: each wait bounded by `limits`, and a
    /// connection lost or left past its bound replaced (the server it was on tried last), so that
    /// an export running through a failover finishes on the new primary, each message once.
    public func exportOutbox(
        to path: String, format: OutboxFormat, selection: OutboxExporter.Selection = .init(),
        batchSize: Int = OutboxExporter.defaultBatchSize,
        limits: WaitLimits, onProgress: (Int, Int) -> Void = { _, _ in }
    ) throws -> ExportReport {
        connection.waitLimits = limits
        let reconnection = Reconnection(conninfo: conninfo, actor: actor, limits: limits, logger: logger)
        return try outbox.export(
            to: path, format: format, selection: selection, batchSize: batchSize, reconnection: reconnection,
            onProgress: onProgress)
    }
}

/// A writer's batch on its own thread, so that the exporter reads the next batch meanwhile.
private final class BackgroundWrite: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    /// Set by the thread before it signals `done`, read after `wait()`.
    private var failure: (any Error)?

    init(_ writer: any OutboxWriter, _ messages: [OutboxMessage]) {
        Thread { [self] in
            do {
                try writer.write(messages)
            } catch {
                failure = error
            }
            done.signal()
        }.start()
    }

    /// Waits until the batch is written (durably, per ``OutboxWriter/write(_:)``).
    func wait() throws {
        done.wait()
        if let failure { throw failure }
    }
}

/// The export formats, for callers that do not import Mail.
public typealias ExportFormatValue = OutboxFormat
