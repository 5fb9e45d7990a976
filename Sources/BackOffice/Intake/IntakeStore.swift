import Dossiers
import Foundation
import Postgres

/// The import's SQL, one method per statement, inside the caller's transaction. ``IntakeWriter``
/// decides what to write; this writes it: COPY for the rows a batch adds (PostgreSQL writes them
/// as one WAL record per page, not one per row), a few set-based statements around them.
struct IntakeStore {
    let connection: Connection

    // MARK: - The batch's session

    /// What a batch needs to know of its session.
    struct Session {
        /// Whether row-level security applies to the caller: COPY cannot write such a table.
        var rowSecurityActive: Bool
        /// The decision clock's instant (`DecisionClock`): nothing is queued later than now.
        var now: Date
    }

    /// Declares the import as the actor of the batch's state changes (until the transaction ends).
    func beginBatch() throws -> Session {
        let row = try connection.query(
            """
            SELECT set_config('eticket.actor', 'import', true), row_security_active('dossier_records') AS active,
                   \(DecisionClock.now) AS now
            """
        ).first
        return Session(
            rowSecurityActive: try row?.decode(Bool.self, "active") ?? true, now: try row?.decode(Date.self, "now") ?? Date())
    }

    // MARK: - Dossiers already known

    /// A dossier of the batch that exists already.
    struct KnownDossier: Equatable {
        var id: Int64
        var externalID: String
        var state: String
        var structureID: Int64
        var structureCode: String
        var accountEmail: String
    }

    /// The dossiers among `externalIDs` that exist, locked (record and status) for the transaction.
    func lockDossiers(externalIDs: [String]) throws -> [KnownDossier] {
        try connection.query(
            """
            SELECT d.id, d.external_id, t.state::text AS state, d.structure_id, s.code AS structure,
                   a.email AS account_email
            FROM dossier_records d JOIN dossier_status t ON t.dossier_id = d.id
            JOIN structures s ON s.id = d.structure_id JOIN accounts a ON a.id = d.account_id
            WHERE d.external_id = ANY($1::text[])
            FOR UPDATE OF d, t
            """, [externalIDs]
        ).map { row in
            KnownDossier(
                id: try row.decode("id"), externalID: try row.decode("external_id"), state: try row.decode("state"),
                structureID: try row.decode("structure_id"), structureCode: try row.decode("structure"),
                accountEmail: try row.decode("account_email"))
        }
    }

    // MARK: - Accounts and ids

    /// A family account: by structure and email, whatever its case.
    struct Account: Equatable {
        var id: Int64
        var structureID: Int64
        var email: String
        var firstName: String
        var lastName: String

        /// What identifies it: emails are ASCII (the contract), so Swift's lowercase is PostgreSQL's.
        var key: AccountKey { AccountKey(structureID: structureID, email: email.lowercased()) }
    }

    struct AccountKey: Hashable {
        var structureID: Int64
        var email: String
    }

    /// The accounts that exist among `keys`, by their key.
    func lookUpAccounts(_ keys: [AccountKey]) throws -> [AccountKey: Account] {
        guard !keys.isEmpty else { return [:] }
        let rows = try connection.query(
            """
            SELECT a.id, a.structure_id, a.email, a.first_name, a.last_name
            FROM unnest($1::bigint[], $2::text[]) AS k(structure_id, email)
            JOIN accounts a ON a.structure_id = k.structure_id AND lower(a.email) = lower(k.email)
            """, [keys.map(\.structureID), keys.map(\.email)])
        var accounts: [AccountKey: Account] = [:]
        for row in rows {
            let account = Account(
                id: try row.decode("id"), structureID: try row.decode("structure_id"), email: try row.decode("email"),
                firstName: try row.decode("first_name"), lastName: try row.decode("last_name"))
            accounts[account.key] = account
        }
        return accounts
    }

    /// New accounts, with the ids drawn for them (``drawIDs(for:_:)``): a plain insert, copied in.
    func insertAccounts(_ accounts: [Account], session: Session) throws {
        guard !accounts.isEmpty else { return }
        try Copier(connection: connection, staged: session.rowSecurityActive).copy(
            into: "accounts", columns: "id, structure_id, email, first_name, last_name",
            rows: accounts.lazy.map { [String($0.id), String($0.structureID), $0.email, $0.firstName, $0.lastName] })
    }

    /// New names for accounts that exist (only those whose names changed: an account sent again
    /// unchanged gets no new row version).
    func renameAccounts(_ accounts: [Account]) throws {
        guard !accounts.isEmpty else { return }
        try connection.query(
            """
            UPDATE accounts a SET first_name = r.first_name, last_name = r.last_name
            FROM unnest($1::bigint[], $2::text[], $3::text[]) AS r(id, first_name, last_name) WHERE a.id = r.id
            """, [accounts.map(\.id), accounts.map(\.firstName), accounts.map(\.lastName)])
    }

    /// Ids for `count` new rows of `table` (`accounts`, `dossier_records`), ascending: new dossiers
    /// are queued in the file's order. The sequence is looked up once (`OFFSET 0` keeps the
    /// subquery from being inlined): `pg_get_serial_sequence` in the select list searched the
    /// catalogs again for every id, 3.9 µs each against 0.5 µs for `nextval` itself.
    func drawIDs(for table: String, _ count: Int) throws -> [Int64] {
        guard count > 0 else { return [] }
        let rows = try connection.query(
            """
            SELECT nextval(s.sequence) AS id
            FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS sequence OFFSET 0) s, generate_series(1, $2)
            """, [table, count])
        return try rows.map { try $0.decode(Int64.self, "id") }.sorted()
    }

    // MARK: - Records and statuses

    /// What the family sent, as its record stores it.
    struct Record {
        var id: Int64
        var structureID: Int64
        var accountID: Int64
        var dossier: Dossier
        /// The line as the portal sent it.
        var content: String
        /// SHA-256 of the line's bytes.
        var contentSHA256: [UInt8]

        static let columns = """
            id, structure_id, account_id, external_id, locale, confirmed, terms_accepted_at,
            house_rules_accepted_at, submitted_at, notes, content, content_sha256
            """

        var copyRow: [String?] {
            [
                String(id), String(structureID), String(accountID), dossier.externalID, dossier.language.rawValue,
                dossier.confirmed.postgresText, dossier.account.termsAcceptedAt?.postgresText,
                dossier.account.houseRulesAcceptedAt?.postgresText, dossier.submittedAt.postgresText, dossier.notes, content,
                PostgresBytes(contentSHA256).postgresText,
            ]
        }
    }

    /// New dossiers' records, then their statuses, submitted (the status trigger records each
    /// submission event, which lets this transaction write the parts).
    func insertSubmitted(_ records: [Record], session: Session) throws {
        guard !records.isEmpty else { return }
        let copier = Copier(connection: connection, staged: session.rowSecurityActive)
        try copier.copy(into: "dossier_records", columns: Record.columns, rows: records.lazy.map(\.copyRow))
        try copier.copy(
            into: "dossier_status", columns: "dossier_id, state", rows: records.lazy.map { [String($0.id), "submitted"] })
    }

    /// Returned dossiers sent again: submitted first, as their next version (the status), then the
    /// new version's record is written (its guardians, trusted persons and documents with it: they
    /// are read from the content, migration 032) and their old children go — the transaction that
    /// submits a dossier writes its record and children; only the owner may touch those of a
    /// dossier still returned (migration 009). Its account stays (migration 002).
    func resubmit(_ records: [Record], session: Session) throws {
        guard !records.isEmpty else { return }
        let ids = records.map(\.id)
        try connection.query(
            "UPDATE dossier_status SET version = version + 1, state = 'submitted' WHERE dossier_id = ANY($1::bigint[])", [ids])
        let copier = Copier(connection: connection, staged: session.rowSecurityActive)
        let staging = try copier.stage(into: "dossier_records", columns: Record.columns, rows: records.lazy.map(\.copyRow))
        try connection.query(
            """
            UPDATE dossier_records d SET locale = r.locale, confirmed = r.confirmed, terms_accepted_at = r.terms_accepted_at,
                   house_rules_accepted_at = r.house_rules_accepted_at, submitted_at = r.submitted_at,
                   notes = r.notes, content = r.content, content_sha256 = r.content_sha256
            FROM \(staging) r WHERE d.id = r.id
            """)
        try connection.query("TRUNCATE \(staging)")
        try connection.query("DELETE FROM children WHERE dossier_id = ANY($1::bigint[])", [ids])
    }

    // MARK: - Children

    /// A dossier's children, split out of what the family sent: rights and reservations name a
    /// child by its id. (Its other parts are views of the content.)
    struct ChildrenOfDossier {
        var dossierID: Int64
        var dossier: Dossier
    }

    func copyChildren(_ dossiers: [ChildrenOfDossier], session: Session) throws {
        try Copier(connection: connection, staged: session.rowSecurityActive).copy(
            into: "children", columns: "dossier_id, position, first_name, last_name, birth_date, school, grade, services, notes",
            rows: dossiers.lazy.flatMap { children in
                children.dossier.children.enumerated().map { position, child in
                    [
                        String(children.dossierID), String(position), child.firstName, child.lastName,
                        child.birthDate.description,
                        child.school, child.grade, child.services?.postgresText, child.notes,
                    ]
                }
            })
    }

    // MARK: - The queue

    /// A dossier to process, due at its submission (the oldest submission is claimed first), never
    /// later than now.
    struct QueuedDossier {
        var dossierID: Int64
        var runAt: Date
    }

    /// New dossiers cannot be queued already: copied in, as the rest of their rows.
    func enqueueNew(_ dossiers: [QueuedDossier], session: Session) throws {
        guard !dossiers.isEmpty else { return }
        try Copier(connection: connection, staged: session.rowSecurityActive).copy(
            into: "dossier_queue", columns: "dossier_id, run_at",
            rows: dossiers.lazy.map { [String($0.dossierID), $0.runAt.postgresText] })
    }

    /// Dossiers sent again: a row still there (its processing not yet done) stays.
    func enqueueAgain(_ dossiers: [QueuedDossier]) throws {
        guard !dossiers.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO dossier_queue (dossier_id, job, run_at)
            SELECT id, 'process', run_at FROM unnest($1::bigint[], $2::timestamptz[]) AS i(id, run_at)
            ON CONFLICT DO NOTHING
            """, [dossiers.map(\.dossierID), dossiers.map(\.runAt.postgresText)])
    }

    // MARK: - Around the batches

    /// The structures a line may name, by code, with their services' codes.
    func knownStructures() throws -> [String: DossierImporter.KnownStructure] {
        var structures: [String: DossierImporter.KnownStructure] = [:]
        let rows = try connection.query(
            "SELECT s.id, s.code, ARRAY(SELECT v.code FROM services v WHERE v.structure_id = s.id) AS services FROM structures s")
        for row in rows {
            structures[try row.decode(String.self, "code")] = DossierImporter.KnownStructure(
                id: try row.decode(Int64.self, "id"), services: Set(try row.decode([String].self, "services")))
        }
        return structures
    }

    /// Those of `tables` whose size the planner no longer knows: never analysed, or whose live
    /// rows differ by more than a tenth from the rows counted at their last analysis. (By size,
    /// not by rows changed since: an ANALYZE of some columns does not reset that count.)
    func staleTables(_ tables: [String]) throws -> [String] {
        try connection.query(
            """
            SELECT c.oid::regclass::text AS name FROM pg_class c
            WHERE c.oid = ANY($1::regclass[])
              AND (c.reltuples < 0 OR abs(pg_stat_get_live_tuples(c.oid) - c.reltuples) > 0.1 * c.reltuples)
            ORDER BY c.oid
            """, [tables]
        ).map { try $0.decode(String.self, "name") }
    }

    /// Analyses `columns` of each table (names from ``DossierImporter/analyzedColumns``, not input).
    func analyze(_ columns: [(table: String, columns: [String])]) throws {
        guard !columns.isEmpty else { return }
        try connection.execute(
            script: "ANALYZE " + columns.map { "\($0.table) (\($0.columns.joined(separator: ", ")))" }.joined(separator: ", "))
    }

    // MARK: - COPY under row-level security

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
}
