import Dossiers
import Foundation
import Postgres

/// What storing one batch did.
struct IntakeOutcome: Sendable {
    var created = 0
    var resubmitted = 0
    var rejected: [RejectedLine] = []

    mutating func merge(_ other: IntakeOutcome) {
        created += other.created
        resubmitted += other.resubmitted
        rejected += other.rejected
    }
}

/// The SQL of the import: a batch goes straight into the real tables — COPY for the dossiers and
/// their parts, a few set-based statements around it — inside the caller's transaction.
///
/// Each dossier is written once, as submitted, its parts after it: the database lets the
/// transaction that submits a dossier write its parts (migration 009). New dossiers get their ids
/// before they are written, so that their parts can be sent with them.
struct IntakeWriter {
    typealias IntakeLine = DossierImporter.IntakeLine

    let connection: Connection

    func store(_ batch: [IntakeLine]) throws -> IntakeOutcome {
        let rowSecurity = try connection.query(
            "SELECT set_config('eticket.actor', 'import', true), row_security_active('dossier_records') AS active")
        let copier = Copier(connection: connection, staged: try rowSecurity.first?.decode(Bool.self, "active") ?? true)
        var outcome = IntakeOutcome()
        let existing = try lockExisting(batch)
        var fresh: [IntakeLine] = []
        var resubmitted: [(line: IntakeLine, dossierID: Int64)] = []
        for line in batch {
            guard let found = existing[line.dossier.externalID] else {
                fresh.append(line)
                continue
            }
            if let refusal = found.refusal(of: line) {
                outcome.rejected.append(refusal)
            } else {
                resubmitted.append((line, found.id))
            }
        }
        guard !fresh.isEmpty || !resubmitted.isEmpty else { return outcome }
        let accounts = try upsertAccounts(fresh + resubmitted.map(\.line))
        let created = Array(zip(fresh, try drawDossierIDs(fresh.count)))
        let written = created + resubmitted.map { ($0.line, $0.dossierID) }

        try resubmit(resubmitted, accounts: accounts, with: copier)
        try copyDossiers(created, accounts: accounts, with: copier)
        try copyParts(written, with: copier)
        try enqueue(created, fresh: true)
        try enqueue(resubmitted.map { ($0.line, $0.dossierID) }, fresh: false)
        outcome.created = fresh.count
        outcome.resubmitted = resubmitted.count
        return outcome
    }

    // MARK: - Dossiers already known

    /// A dossier of the batch that exists already, locked for this transaction.
    private struct Existing {
        var id: Int64
        var externalID: String
        var state: String
        var structureID: Int64
        var structureCode: String
        var accountEmail: String

        /// Why the line cannot be stored, or `nil`: a dossier is sent again only once returned, and
        /// stays with its structure and its account (migration 002: whoever reads the account's
        /// address must not receive another family's emails).
        func refusal(of line: IntakeLine) -> RejectedLine? {
            var reasons: [String] = []
            if state != DossierState.returned.rawValue {
                reasons.append(
                    "$.external_id: dossier \(externalID) is \(state) and read-only; "
                        + "it can be sent again only after it has been returned")
            }
            if structureID != line.structureID {
                reasons.append(
                    "$.structure: dossier \(externalID) belongs to the structure \(structureCode); "
                        + "it cannot be sent again to another one")
            }
            if line.dossier.account.email.lowercased() != accountEmail.lowercased() {
                // The address itself stays out of the message: rejected lines reach the logs.
                reasons.append(
                    "$.account.email: dossier \(externalID) was sent by another account; "
                        + "it can be sent again only by the account that sent it")
            }
            guard !reasons.isEmpty else { return nil }
            return RejectedLine(line: line.number, externalID: externalID, reasons: reasons, input: line.input)
        }
    }

    private func lockExisting(_ batch: [IntakeLine]) throws -> [String: Existing] {
        let rows = try connection.query(
            """
            SELECT d.id, d.external_id, t.state::text AS state, d.structure_id, s.code AS structure,
                   a.email AS account_email
            FROM dossier_records d JOIN dossier_status t ON t.dossier_id = d.id
            JOIN structures s ON s.id = d.structure_id JOIN accounts a ON a.id = d.account_id
            WHERE d.external_id = ANY($1::text[])
            FOR UPDATE OF d, t
            """, [batch.map(\.dossier.externalID)])
        var existing: [String: Existing] = [:]
        for row in rows {
            let found = Existing(
                id: try row.decode("id"), externalID: try row.decode("external_id"), state: try row.decode("state"),
                structureID: try row.decode("structure_id"), structureCode: try row.decode("structure"),
                accountEmail: try row.decode("account_email"))
            existing[found.externalID] = found
        }
        return existing
    }

    // MARK: - Accounts and ids

    /// Creates or updates the family accounts (by structure and email, whatever its case; the
    /// batch's last line names the account) and returns each line's account id. A new account is
    /// a plain insert and a known one is written only when its names changed: no speculative
    /// insertion, no new row version for an account sent again unchanged. (Two batches creating
    /// the same account at once: one meets the unique index, and its lines are stored one by one.)
    private func upsertAccounts(_ lines: [IntakeLine]) throws -> [Int: Int64] {
        let rows = try connection.query(
            """
            WITH input AS (
                SELECT * FROM unnest($1::integer[], $2::bigint[], $3::text[], $4::text[], $5::text[])
                    AS i(line, structure_id, email, first_name, last_name)
            ), latest AS (
                SELECT DISTINCT ON (structure_id, lower(email)) structure_id, email, first_name, last_name
                FROM input ORDER BY structure_id, lower(email), line DESC
            ), existing AS (
                SELECT a.id, a.structure_id, lower(a.email) AS email, a.first_name, a.last_name
                FROM latest l JOIN accounts a ON a.structure_id = l.structure_id AND lower(a.email) = lower(l.email)
            ), created AS (
                INSERT INTO accounts (structure_id, email, first_name, last_name)
                SELECT l.structure_id, l.email, l.first_name, l.last_name FROM latest l
                WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.structure_id = l.structure_id AND e.email = lower(l.email))
                RETURNING id, structure_id, lower(email) AS email
            ), renamed AS (
                UPDATE accounts a SET first_name = l.first_name, last_name = l.last_name
                FROM existing e JOIN latest l ON l.structure_id = e.structure_id AND lower(l.email) = e.email
                WHERE a.id = e.id AND (e.first_name, e.last_name) IS DISTINCT FROM (l.first_name, l.last_name)
            )
            SELECT i.line, coalesce(c.id, e.id) AS id FROM input i
            LEFT JOIN created c ON c.structure_id = i.structure_id AND c.email = lower(i.email)
            LEFT JOIN existing e ON e.structure_id = i.structure_id AND e.email = lower(i.email)
            """,
            [
                lines.map(\.number), lines.map(\.structureID), lines.map(\.dossier.account.email),
                lines.map(\.dossier.account.firstName), lines.map(\.dossier.account.lastName),
            ])
        var accounts: [Int: Int64] = [:]
        for row in rows { accounts[try row.decode("line")] = try row.decode("id") }
        return accounts
    }

    /// Ids for new dossiers, ascending so that the queue takes them in the file's order.
    private func drawDossierIDs(_ count: Int) throws -> [Int64] {
        guard count > 0 else { return [] }
        let rows = try connection.query(
            "SELECT nextval(pg_get_serial_sequence('dossier_records', 'id')) AS id FROM generate_series(1, $1)", [count])
        return try rows.map { try $0.decode(Int64.self, "id") }.sorted()
    }

    // MARK: - Writing

    /// What the family sent (the state is the status's, written after it).
    static let recordColumns = """
        id, structure_id, account_id, external_id, locale, confirmed, terms_accepted_at,
        house_rules_accepted_at, submitted_at, notes, content
        """

    private func dossierRow(_ line: IntakeLine, id: Int64, accounts: [Int: Int64]) throws -> [String?] {
        guard let accountID = accounts[line.number] else {
            throw BackOfficeError(.failure, "line \(line.number): no account was stored for \(line.dossier.externalID)")
        }
        let dossier = line.dossier
        return [
            String(id), String(line.structureID), String(accountID), dossier.externalID, dossier.language.rawValue, dossier.confirmed.postgresText, dossier.account.termsAcceptedAt?.postgresText,
            dossier.account.houseRulesAcceptedAt?.postgresText, dossier.submittedAt.postgresText, dossier.notes,
            line.content,
        ]
    }

    /// New dossiers: their records, then their status, submitted (the status trigger records each
    /// submission event, which lets this transaction write the parts).
    private func copyDossiers(_ dossiers: [(IntakeLine, Int64)], accounts: [Int: Int64], with copier: Copier) throws {
        guard !dossiers.isEmpty else { return }
        let rows = try dossiers.map { try dossierRow($0.0, id: $0.1, accounts: accounts) }
        try copier.copy(into: "dossier_records", columns: Self.recordColumns, rows: rows)
        try connection.query(
            "INSERT INTO dossier_status (dossier_id, state) SELECT id, 'submitted' FROM unnest($1::bigint[]) AS id",
            [dossiers.map(\.1)])
    }

    /// Returned dossiers sent again: submitted first, as their next version (the status), then the
    /// new version's record is written and their old parts go — the transaction that submits a
    /// dossier writes its record and parts; only the owner may touch those of a dossier still
    /// returned (migration 009). Its account stays (migration 002).
    private func resubmit(_ dossiers: [(line: IntakeLine, dossierID: Int64)], accounts: [Int: Int64], with copier: Copier)
        throws
    {
        guard !dossiers.isEmpty else { return }
        let rows = try dossiers.map { try dossierRow($0.line, id: $0.dossierID, accounts: accounts) }
        let ids = dossiers.map(\.dossierID)
        try connection.query(
            "UPDATE dossier_status SET version = version + 1, state = 'submitted' WHERE dossier_id = ANY($1::bigint[])",
            [ids])
        let staging = try copier.stage(into: "dossier_records", columns: Self.recordColumns, rows: rows)
        try connection.query(
            """
            UPDATE dossier_records d SET locale = r.locale, confirmed = r.confirmed, terms_accepted_at = r.terms_accepted_at,
                   house_rules_accepted_at = r.house_rules_accepted_at, submitted_at = r.submitted_at,
                   notes = r.notes, content = r.content
            FROM \(staging) r WHERE d.id = r.id
            """)
        try connection.query("TRUNCATE \(staging)")
        for part in ["children", "guardians", "trusted_persons", "documents"] {
            try connection.query("DELETE FROM \(part) WHERE dossier_id = ANY($1::bigint[])", [ids])
        }
    }

    private func copyParts(_ dossiers: [(IntakeLine, Int64)], with copier: Copier) throws {
        try copier.copy(
            into: "children", columns: "dossier_id, position, first_name, last_name, birth_date, school, grade, services, notes",
            rows: dossiers.lazy.flatMap { line, id in
                line.dossier.children.enumerated().map { position, child in
                    [
                        String(id), String(position), child.firstName, child.lastName, child.birthDate.description,
                        child.school, child.grade, child.services?.postgresText, child.notes,
                    ]
                }
            })
        try copier.copy(
            into: "guardians",
            columns: """
                dossier_id, position, first_name, last_name, relationship, email, phone,
                address_line1, address_line2, postal_code, city, payer, emergency_contact, notes
                """,
            rows: dossiers.lazy.flatMap { line, id in
                line.dossier.guardians.enumerated().map { position, guardian in
                    [
                        String(id), String(position), guardian.firstName, guardian.lastName, guardian.relationship,
                        guardian.email, guardian.phone, guardian.address?.line1, guardian.address?.line2,
                        guardian.address?.postalCode, guardian.address?.city, guardian.isPayer.postgresText,
                        guardian.isEmergencyContact.postgresText, guardian.notes,
                    ]
                }
            })
        try copier.copy(
            into: "trusted_persons",
            columns: "dossier_id, position, first_name, last_name, relationship, phone, can_pick_up, emergency_contact, notes",
            rows: dossiers.lazy.flatMap { line, id in
                line.dossier.trustedPersons.enumerated().map { position, person in
                    [
                        String(id), String(position), person.firstName, person.lastName, person.relationship,
                        person.phone, person.canPickUp.postgresText, person.isEmergencyContact.postgresText, person.notes,
                    ]
                }
            })
        try copier.copy(
            into: "documents", columns: "dossier_id, position, kind, filename, media_type, size, sha256, notes",
            rows: dossiers.lazy.flatMap { line, id in
                line.dossier.documents.enumerated().map { position, document in
                    [
                        String(id), String(position), document.kind, document.filename, document.mediaType,
                        String(document.size), document.sha256, document.notes,
                    ]
                }
            })
    }

    /// COPY straight into a table, or, for a role under row-level security (which COPY FROM does
    /// not support: the intake role, an administrator), into a staging table and from there by
    /// INSERT, which the policies check.
    struct Copier {
        let connection: Connection
        let staged: Bool

        func copy(into table: String, columns: String, rows: some Sequence<[String?]>) throws {
            guard staged else {
                try connection.copyIn("COPY \(table) (\(columns)) FROM STDIN", rows: rows)
                return
            }
            let staging = try stage(into: table, columns: columns, rows: rows)
            // OVERRIDING SYSTEM VALUE: new dossiers come with the ids drawn for them.
            try connection.query(
                "INSERT INTO \(table) (\(columns)) OVERRIDING SYSTEM VALUE SELECT \(columns) FROM \(staging)")
            try connection.query("TRUNCATE \(staging)")
        }

        /// COPYs `rows` into a temporary table with `table`'s `columns` (emptied at commit, and by
        /// the caller once read) and returns its name.
        func stage(into table: String, columns: String, rows: some Sequence<[String?]>) throws -> String {
            let staging = "intake_staged_\(table)"
            try connection.execute(
                script: """
                    CREATE TEMP TABLE IF NOT EXISTS \(staging) ON COMMIT DELETE ROWS
                        AS SELECT \(columns) FROM \(table) WITH NO DATA
                    """)
            try connection.copyIn("COPY \(staging) (\(columns)) FROM STDIN", rows: rows)
            return staging
        }
    }

    /// Queues the dossiers, due at submission time so that the oldest submission is claimed first.
    /// A new dossier cannot be queued already: a plain insert. A resubmitted one skips a row that
    /// is still there.
    private func enqueue(_ dossiers: [(IntakeLine, Int64)], fresh: Bool) throws {
        guard !dossiers.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO dossier_queue (dossier_id, job, run_at)
            SELECT id, 'process', least(submitted_at, \(DecisionClock.now))
            FROM unnest($1::bigint[], $2::timestamptz[]) AS i(id, submitted_at)
            \(fresh ? "" : "ON CONFLICT DO NOTHING")
            """, [dossiers.map(\.1), dossiers.map(\.0.dossier.submittedAt.postgresText)])
    }
}
