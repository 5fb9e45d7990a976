import Foundation
import Logging
import Mail
import Postgres

/// What an export wrote.
public struct ExportReport: Sendable, Equatable {
    public var exported = 0
    public var path: String
    public var format: OutboxFormat
}

/// One row of the outbox, for administrators.
public struct OutboxEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var dossier: String
    public var structure: String
    public var kind: String
    public var recipient: String
    public var subject: String
    public var createdAt: Date
    public var exportedAt: Date?
}

/// Exports the outbox for the mail relay, each message exactly once.
///
/// A batch is read and locked, written by the format's writer (durably: fsync'd and renamed, or
/// appended under a commit marker) and only then marked exported, in one transaction. A crash
/// before the mark leaves the rows pending; the rerun writes them again under the same names (the
/// writers skip or overwrite what is already there), so every message appears once.
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

    /// Writes the selected messages to `path` in `format`, in batches of `batchSize`.
    ///
    /// - Parameter onProgress: called after each batch with (exported so far, total to export).
    public func export(
        to path: String, format: OutboxFormat, selection: Selection = .init(), batchSize: Int = 500,
        onProgress: (Int, Int) -> Void = { _, _ in }
    ) throws -> ExportReport {
        let writer: any OutboxWriter
        do {
            writer = try makeOutboxWriter(format, path: path)
        } catch {
            throw BackOfficeError(.failure, "cannot write to \(path): \(error)", underlying: error)
        }
        var report = ExportReport(path: path, format: format)
        let total = try database("cannot count the outbox") { try count(selection) }
        var lastID: Int64 = 0
        while selection.limit.map({ report.exported < $0 }) ?? true {
            let size = min(batchSize, (selection.limit ?? Int.max) - report.exported)
            let written = try database("cannot export the outbox") {
                try connection.transaction { connection in
                    let messages = try pending(selection, after: lastID, limit: size, on: connection)
                    guard let last = messages.last else { return 0 }
                    do {
                        try writer.write(messages.map(\.message))
                    } catch {
                        throw BackOfficeError(.failure, "cannot write to \(path): \(error)", underlying: error)
                    }
                    try connection.query(
                        "UPDATE email_outbox SET exported_at = now() WHERE id = ANY($1::bigint[])", [messages.map(\.id)])
                    lastID = last.id
                    return messages.count
                }
            }
            guard written > 0 else { break }
            report.exported += written
            onProgress(report.exported, min(total, selection.limit ?? total))
        }
        logger.info("outbox exported", metadata: ["count": "\(report.exported)", "format": "\(format.rawValue)"])
        return report
    }

    private struct Pending {
        var id: Int64
        var message: OutboxMessage
    }

    private static let filter = """
        ($1::text IS NULL OR s.code = $1)
        AND (CASE WHEN $2::timestamptz IS NULL THEN o.exported_at IS NULL ELSE o.exported_at >= $2 END)
        """

    private func count(_ selection: Selection) throws -> Int {
        try connection.query(
            "SELECT count(*) AS n FROM email_outbox o JOIN structures s ON s.id = o.structure_id WHERE \(Self.filter)",
            [selection.structure, selection.againSince]
        ).first?.decode(Int.self, "n") ?? 0
    }

    /// The next batch in id order, locked so that two exporters never write the same rows.
    private func pending(_ selection: Selection, after lastID: Int64, limit: Int, on connection: Connection) throws -> [Pending] {
        try connection.query(
            """
            SELECT o.id, o.message_id, o.sender, o.recipient, o.subject, o.message, o.created_at
            FROM email_outbox o JOIN structures s ON s.id = o.structure_id
            WHERE \(Self.filter) AND o.id > $3
            ORDER BY o.id LIMIT $4
            FOR UPDATE OF o SKIP LOCKED
            """, [selection.structure, selection.againSince, lastID, limit]
        ).map { row in
            let id: Int64 = try row.decode("id")
            let bytes = try row.decode([UInt8].self, "message")
            let parts = try ComposedMessageParts(reading: bytes)
            return Pending(
                id: id,
                message: OutboxMessage(
                    id: String(id), messageID: try row.decode("message_id"), from: try row.decode("sender"),
                    to: try row.decode("recipient"), subject: try row.decode("subject"), text: parts.text,
                    html: parts.html, headers: parts.headers, bytes: bytes,
                    createdAt: try row.decode("created_at")))
        }
    }

    /// The outbox, newest first.
    public func list(structure: String? = nil, pendingOnly: Bool = false, limit: Int = 100) throws -> [OutboxEntry] {
        try database("cannot list the outbox") {
            try connection.query(
                """
                SELECT o.id, d.external_id, s.code, o.kind::text AS kind, o.recipient, o.subject, o.created_at, o.exported_at
                FROM email_outbox o JOIN dossiers d ON d.id = o.dossier_id JOIN structures s ON s.id = o.structure_id
                WHERE ($1::text IS NULL OR s.code = $1) AND (NOT $2 OR o.exported_at IS NULL)
                ORDER BY o.id DESC LIMIT $3
                """, [structure, pendingOnly, limit]
            ).map { row in
                OutboxEntry(
                    id: try row.decode("id"), dossier: try row.decode("external_id"), structure: try row.decode("code"),
                    kind: try row.decode("kind"), recipient: try row.decode("recipient"), subject: try row.decode("subject"),
                    createdAt: try row.decode("created_at"), exportedAt: try row.decodeIfPresent("exported_at"))
            }
        }
    }

    /// The exact bytes of one message.
    public func message(id: Int64) throws -> [UInt8] {
        guard
            let row = try database("cannot read the outbox", {
                try connection.query("SELECT message FROM email_outbox WHERE id = $1", [id]).first
            })
        else { throw BackOfficeError(.notFound, "no outbox message \(id)") }
        return try database("cannot read the outbox") { try row.decode([UInt8].self, "message") }
    }
}

extension Administration {
    public var outbox: OutboxExporter { OutboxExporter(connection: connection, logger: logger) }
}

/// The export formats, for callers that do not import Mail.
public typealias ExportFormatValue = OutboxFormat
