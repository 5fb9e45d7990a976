import Dossiers
import Foundation
import Mail
import Postgres

/// The SQL of the outbox after its rows are written: the export (read, lock, mark), the listing,
/// and delivery to the relay. Every method runs on the caller's connection, inside the caller's
/// transaction.
struct OutboxStore {
    let connection: Connection

    /// Makes sure that what this connection read is kept by the cluster before a byte of it leaves
    /// the database: a transaction that writes WAL (a logical message, which no table keeps)
    /// commits after the read.
    ///
    /// On a primary with synchronous replication the commit returns once a standby has every WAL
    /// record up to it, so every row the read saw is on that standby too. A row can be visible
    /// and yet on that server only: the commit of a transaction whose wait for a standby was
    /// cancelled (a worker's commit past its bound on a zombie primary) stays there, and a
    /// failover forgets it. On such a server this commit waits in turn, past the connection's
    /// bound: the export leaves it instead of mailing a decision the cluster does not keep.
    func fence() throws {
        try connection.transaction { connection in
            try connection.query("SELECT pg_logical_emit_message(true, 'eticket', 'outbox export')")
        }
    }

    /// A message to export: its row id, and what the writer needs of it.
    struct Pending {
        var id: Int64
        var message: OutboxMessage
    }

    /// Which rows a ``OutboxExporter/Selection`` takes: $1 the structure, $2 `againSince`.
    private static let filter = """
        ($1::text IS NULL OR s.code = $1)
        AND (CASE WHEN $2::timestamptz IS NULL THEN o.exported_at IS NULL ELSE o.exported_at >= $2 END)
        """

    /// The rows the selection takes.
    func count(_ selection: OutboxExporter.Selection) throws -> Int {
        try connection.query(
            "SELECT count(*) AS n FROM email_outbox o JOIN structures s ON s.id = o.structure_id WHERE \(Self.filter)",
            [selection.structure, selection.againSince]
        ).first?.decode(Int.self, "n") ?? 0
    }

    /// The next batch in id order: the content the writer needs, without locks (see the type's
    /// documentation; ``lock(_:_:)`` takes them).
    ///
    /// Reads only the columns `fields` names, in binary format: the ~4 KB `message` arrives as its
    /// bytes, not as hex text to decode. The outbox keeps each email once, as its bytes: the text,
    /// html and headers a JSON Lines export wants are read back from them.
    func read(
        _ selection: OutboxExporter.Selection, fields: OutboxMessage.Fields, after lastID: Int64, limit: Int
    ) throws -> [Pending] {
        var columns = ["o.id"]
        if !fields.isDisjoint(with: [.bytes, .content]) { columns.append("o.message") }
        if fields.contains(.envelope) { columns += ["o.message_id", "o.sender", "o.created_at"] }
        if fields.contains(.content) { columns += ["o.recipient", "o.subject"] }
        let rows = try connection.queryBinary(
            """
            SELECT \(columns.joined(separator: ", "))
            FROM email_outbox o JOIN structures s ON s.id = o.structure_id
            WHERE \(Self.filter) AND o.id > $3
            ORDER BY o.id LIMIT $4
            """, [selection.structure, selection.againSince, lastID, limit])
        var batch: [Pending] = []
        batch.reserveCapacity(rows.count)
        for row in rows {
            let id = try row.int64("id")
            var message = OutboxMessage(
                id: String(id), messageID: "", from: "", to: "", subject: "", text: "", html: "", headers: [], bytes: [],
                createdAt: Date(timeIntervalSince1970: 0))
            let bytes = fields.isDisjoint(with: [.bytes, .content]) ? [] : try row.bytes("message")
            if fields.contains(.bytes) { message.bytes = bytes }
            if fields.contains(.envelope) {
                message.messageID = try row.string("message_id")
                message.from = try row.string("sender")
                message.createdAt = try row.date("created_at")
            }
            if fields.contains(.content) {
                message.to = try row.string("recipient")
                message.subject = try row.string("subject")
                let parts = try ComposedMessageParts(reading: bytes)
                message.text = parts.text
                message.html = parts.html
                message.headers = parts.headers
            }
            batch.append(Pending(id: id, message: message))
        }
        return batch
    }

    /// Locks those of `ids` that are still to export, so that two exporters never write the same
    /// rows, and returns them.
    func lock(_ ids: [Int64], _ selection: OutboxExporter.Selection) throws -> Set<Int64> {
        Set(
            try connection.query(
                """
                SELECT o.id FROM email_outbox o JOIN structures s ON s.id = o.structure_id
                WHERE \(Self.filter) AND o.id = ANY($3::bigint[])
                FOR UPDATE OF o SKIP LOCKED
                """, [selection.structure, selection.againSince, ids]
            ).map { row in try row.decode(Int64.self, "id") })
    }

    /// Marks the rows exported, once their files are durable.
    func markExported(_ ids: [Int64]) throws {
        try connection.query("UPDATE email_outbox SET exported_at = now() WHERE id = ANY($1::bigint[])", [ids])
    }

    struct ListParams {
        var structure: String?
        /// Only the rows not exported yet.
        var pendingOnly = false
        var limit = 100
    }

    /// The outbox, newest first.
    func list(_ params: ListParams) throws -> [OutboxEntry] {
        try connection.query(
            """
            SELECT o.id, d.external_id, s.code, o.kind::text AS kind, o.recipient, o.subject, o.created_at, o.exported_at,
                   o.delivery
            FROM email_outbox o JOIN dossiers d ON d.id = o.dossier_id JOIN structures s ON s.id = o.structure_id
            WHERE ($1::text IS NULL OR s.code = $1) AND (NOT $2 OR o.exported_at IS NULL)
            ORDER BY o.id DESC LIMIT $3
            """, [params.structure, params.pendingOnly, params.limit]
        ).map { row in
            OutboxEntry(
                id: try row.decode("id"), dossier: try row.decode("external_id"), structure: try row.decode("code"),
                kind: try row.decode("kind"), recipient: try row.decode("recipient"), subject: try row.decode("subject"),
                createdAt: try row.decode("created_at"), exportedAt: try row.decodeIfPresent("exported_at"),
                delivery: try row.decode(EmailDelivery.self, "delivery"))
        }
    }

    /// The exact bytes of one message, `nil` when there is no such row.
    func message(id: Int64) throws -> [UInt8]? {
        try connection.query("SELECT message FROM email_outbox WHERE id = $1", [id]).first?.decode([UInt8].self, "message")
    }

    // MARK: - Delivery to the relay

    /// Due now: pending, or deferred with its next attempt come (the decision clock's instant).
    /// `$1`: a structure code or NULL.
    private static let dueFilter = """
        o.delivery IN ('pending', 'deferred')
        AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= \(DecisionClock.now))
        AND ($1::text IS NULL OR o.structure_id = (SELECT id FROM structures WHERE code = $1))
        """

    /// The messages due now (of one structure, when given).
    func dueCount(structure: String?) throws -> Int {
        try connection.query("SELECT count(*) AS n FROM email_outbox o WHERE \(Self.dueFilter)", [structure])
            .first?.decode(Int.self, "n") ?? 0
    }

    /// A message claimed for delivery, locked by the claiming transaction.
    struct Claimed: Equatable {
        var id: Int64
        var sender: String
        var recipient: String
        var message: [UInt8]
        var attempts: Int
    }

    struct ClaimParams {
        var structure: String?
        /// Only messages after this id: below it, the caller handled every message or another holds it.
        var after: Int64 = 0
    }

    /// Locks the first due message after the cursor that no other transaction holds.
    func claimDue(_ params: ClaimParams) throws -> Claimed? {
        guard
            let row = try connection.queryBinary(
                """
                SELECT o.id, o.sender, o.recipient, o.message, o.delivery_attempts::bigint AS attempts
                FROM email_outbox o
                WHERE \(Self.dueFilter) AND o.id > $2
                ORDER BY o.id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
                """, [params.structure, params.after]
            ).first
        else { return nil }
        return Claimed(
            id: try row.int64("id"), sender: try row.string("sender"), recipient: try row.string("recipient"),
            message: try row.bytes("message"), attempts: Int(try row.int64("attempts")))
    }

    /// What the relay said of one attempt.
    struct Attempt {
        var id: Int64
        /// The relay's reply, or what happened to the connection.
        var reply: String
        /// Attempts so far, this one included.
        var attempts: Int
    }

    func markSent(_ attempt: Attempt) throws {
        try connection.query(
            """
            UPDATE email_outbox SET delivery = 'sent', delivered_at = clock_timestamp(), delivery_reply = $2,
                delivery_attempts = $3, last_attempt_at = clock_timestamp(), next_attempt_at = NULL
            WHERE id = $1
            """, [attempt.id, attempt.reply, attempt.attempts])
    }

    /// Offers the message again `delay` after now by the decision clock.
    func markDeferred(_ attempt: Attempt, retryIn delay: Duration) throws {
        try connection.query(
            """
            UPDATE email_outbox SET delivery = 'deferred', delivery_reply = $2, delivery_attempts = $3,
                last_attempt_at = clock_timestamp(),
                next_attempt_at = \(DecisionClock.statementNow) + make_interval(secs => $4)
            WHERE id = $1
            """, [attempt.id, attempt.reply, attempt.attempts, Double(delay.milliseconds) / 1000])
    }

    func markFailed(_ attempt: Attempt) throws {
        try connection.query(
            """
            UPDATE email_outbox SET delivery = 'failed', delivery_reply = $2, delivery_attempts = $3,
                last_attempt_at = clock_timestamp(), next_attempt_at = NULL
            WHERE id = $1
            """, [attempt.id, attempt.reply, attempt.attempts])
    }
}
