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

    /// Analyses the outbox when its pending rows are more than a batch of `batchSize` and more than
    /// twice what the planner believes (036): a burst of new emails planned as a handful makes each
    /// batch of an export join and sort the whole backlog. Returns whether it analysed.
    @discardableResult
    func refreshStatistics(batchSize: Int) throws -> Bool {
        try connection.query("SELECT refresh_outbox_statistics($1::integer) AS analysed", [batchSize])
            .first?.decode(Bool.self, "analysed") ?? false
    }

    /// An outbox row's own columns, for ``StoredEmail``, on the alias `e`.
    static let emailColumns = """
        e.id, e.kind::text AS kind, e.message_id, e.sender, e.recipient, e.created_at, e.message, e.subject,
        e.particulars::text AS particulars, e.template_set
        """

    /// What an email says of its structure, period and decision, read when it is rendered
    /// (``renderedJoins`` names them `s`, `p` and `x`).
    static let renderedColumns = """
        s.code AS structure_code, s.name AS structure_name, s.portal_url, s.sender_name, s.reply_to, s.timezone,
        s.display_name, s.logo_url, s.accent_color, s.contact_phone, s.contact_address, s.contact_hours,
        p.label AS period_label, p.starts_on::text AS period_starts_on, p.ends_on::text AS period_ends_on,
        array_to_string(p.closed_dates, ' ') AS period_closed_days,
        x.outcome::text AS outcome, x.findings::text AS findings, x.reason
        """

    static let renderedJoins = """
        JOIN structures s ON s.id = e.structure_id
        LEFT JOIN periods p ON p.id = e.period_id
        LEFT JOIN decisions x ON x.id = e.decision_id
        """

    /// Which rows a ``OutboxExporter/Selection`` takes: $1 the structure, $2 `againSince`.
    private static let filter = """
        ($1::text IS NULL OR s.code = $1)
        AND (CASE WHEN $2::timestamptz IS NULL THEN e.exported_at IS NULL ELSE e.exported_at >= $2 END)
        """

    /// The rows the selection takes.
    func count(_ selection: OutboxExporter.Selection) throws -> Int {
        try connection.query(
            "SELECT count(*) AS n FROM email_outbox e JOIN structures s ON s.id = e.structure_id WHERE \(Self.filter)",
            [selection.structure, selection.againSince]
        ).first?.decode(Int.self, "n") ?? 0
    }

    /// The next batch in id order, ready to render, without locks (see ``OutboxExporter``;
    /// ``lock(_:_:)`` takes them). In binary format: a row from before 029 holds its message's
    /// bytes.
    func read(_ selection: OutboxExporter.Selection, after lastID: Int64, limit: Int) throws -> [StoredEmail] {
        try connection.queryBinary(
            """
            SELECT \(Self.emailColumns), \(Self.renderedColumns)
            FROM email_outbox e \(Self.renderedJoins)
            WHERE \(Self.filter) AND e.id > $3
            ORDER BY e.id LIMIT $4
            """, [selection.structure, selection.againSince, lastID, limit]
        ).map(StoredEmail.init)
    }

    /// The files of a stored template set, `nil` when there is none of this SHA-256.
    func templateSet(_ sha256: [UInt8]) throws -> [UInt8]? {
        try connection.queryBinary("SELECT files FROM email_template_sets WHERE sha256 = $1", [sha256]).first?.bytes("files")
    }

    /// Locks those of `ids` that are still to export, so that two exporters never write the same
    /// rows, and returns them.
    func lock(_ ids: [Int64], _ selection: OutboxExporter.Selection) throws -> Set<Int64> {
        Set(
            try connection.query(
                """
                SELECT e.id FROM email_outbox e JOIN structures s ON s.id = e.structure_id
                WHERE \(Self.filter) AND e.id = ANY($3::bigint[])
                FOR UPDATE OF e SKIP LOCKED
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

    /// The outbox, newest first: each row's listing, and the row to render its subject from.
    func list(_ params: ListParams) throws -> [(entry: OutboxEntry, email: StoredEmail)] {
        try connection.queryBinary(
            """
            SELECT \(Self.emailColumns), \(Self.renderedColumns), d.external_id, e.exported_at,
                   e.delivery::text AS delivery
            FROM email_outbox e JOIN dossier_records d ON d.id = e.dossier_id \(Self.renderedJoins)
            WHERE ($1::text IS NULL OR s.code = $1) AND (NOT $2 OR e.exported_at IS NULL)
            ORDER BY e.id DESC LIMIT $3
            """, [params.structure, params.pendingOnly, params.limit]
        ).map { row in
            let email = try StoredEmail(row)
            let entry = OutboxEntry(
                id: email.id, dossier: try row.string("external_id"), structure: email.structure.code,
                kind: email.kind.rawValue, recipient: email.recipient, subject: "", createdAt: email.createdAt,
                exportedAt: row.isNull("exported_at") ? nil : try row.date("exported_at"),
                delivery: try EmailDelivery(postgresText: try row.string("delivery")))
            return (entry, email)
        }
    }

    /// One row, ready to render; `nil` when there is no such row.
    func email(id: Int64) throws -> StoredEmail? {
        try connection.queryBinary(
            "SELECT \(Self.emailColumns), \(Self.renderedColumns) FROM email_outbox e \(Self.renderedJoins) WHERE e.id = $1",
            [id]
        ).first.map(StoredEmail.init)
    }

    // MARK: - Delivery to the relay

    /// Due now: pending, or deferred with its next attempt come (the decision clock's instant).
    /// `$1`: a structure code or NULL.
    private static let dueFilter = """
        e.delivery IN ('pending', 'deferred')
        AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= \(DecisionClock.now))
        AND ($1::text IS NULL OR e.structure_id = (SELECT id FROM structures WHERE code = $1))
        """

    /// The messages due now (of one structure, when given).
    func dueCount(structure: String?) throws -> Int {
        try connection.query("SELECT count(*) AS n FROM email_outbox e WHERE \(Self.dueFilter)", [structure])
            .first?.decode(Int.self, "n") ?? 0
    }

    /// A message claimed for delivery, locked by the claiming transaction.
    struct Claimed {
        var email: StoredEmail
        var attempts: Int
        var id: Int64 { email.id }
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
                SELECT \(Self.emailColumns), \(Self.renderedColumns), e.delivery_attempts::bigint AS attempts
                FROM email_outbox e \(Self.renderedJoins)
                WHERE \(Self.dueFilter) AND e.id > $2
                ORDER BY e.id
                LIMIT 1
                FOR UPDATE OF e SKIP LOCKED
                """, [params.structure, params.after]
            ).first
        else { return nil }
        return Claimed(email: try StoredEmail(row), attempts: Int(try row.int64("attempts")))
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
