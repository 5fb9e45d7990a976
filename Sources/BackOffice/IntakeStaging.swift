import Dossiers
import Foundation
import Postgres

/// What storing one batch did.
struct StagingOutcome: Sendable {
    var created = 0
    var resubmitted = 0
    var rejected: [RejectedLine] = []

    mutating func merge(_ other: StagingOutcome) {
        created += other.created
        resubmitted += other.resubmitted
        rejected += other.rejected
    }
}

/// The SQL of the import: COPY a batch into temporary staging tables, then move it into the real
/// tables with set-based statements. Runs inside the caller's transaction.
struct IntakeStaging {
    let connection: Connection

    func store(_ batch: [IntakeLine]) throws -> StagingOutcome {
        try connection.execute(script: Self.createStaging)
        try connection.query("SELECT set_config('eticket.actor', 'import', true)")
        try copy(batch)
        var outcome = StagingOutcome()
        outcome.rejected = try refuseReadOnly(batch)
        // Fresh temporary tables have no statistics: without them the planner joins them by nested
        // loops, which made a batch of 2,000 take a second.
        try connection.execute(
            script: "ANALYZE intake_dossiers, intake_children, intake_guardians, intake_trusted_persons, intake_documents")
        try connection.execute(script: Self.moveIntoTables)
        let counts = try connection.query(
            "SELECT count(*) FILTER (WHERE resubmission) AS resubmitted, count(*) AS total FROM intake_dossiers")
        if let row = counts.first {
            outcome.resubmitted = try row.decode(Int.self, "resubmitted")
            outcome.created = try row.decode(Int.self, "total") - outcome.resubmitted
        }
        return outcome
    }

    typealias IntakeLine = DossierImporter.IntakeLine

    private func copy(_ batch: [IntakeLine]) throws {
        try connection.copyIn(
            """
            COPY intake_dossiers (line, external_id, structure_id, account_email, account_first_name,
                account_last_name, locale, confirmed, terms_accepted_at, house_rules_accepted_at,
                submitted_at, notes, content) FROM STDIN
            """,
            rows: batch.lazy.map { line in
                let dossier = line.dossier
                return [
                    String(line.number), dossier.externalID, String(line.structureID), dossier.account.email,
                    dossier.account.firstName, dossier.account.lastName, dossier.language.rawValue,
                    dossier.confirmed.postgresText, dossier.account.termsAcceptedAt?.postgresText,
                    dossier.account.houseRulesAcceptedAt?.postgresText, dossier.submittedAt.postgresText,
                    dossier.notes, line.content,
                ]
            })
        try connection.copyIn(
            "COPY intake_children (line, position, first_name, last_name, birth_date, school, grade, services, notes) FROM STDIN",
            rows: batch.lazy.flatMap { line in
                line.dossier.children.enumerated().map { position, child in
                    [
                        String(line.number), String(position), child.firstName, child.lastName,
                        child.birthDate.description, child.school, child.grade, child.services?.postgresText, child.notes,
                    ]
                }
            })
        try connection.copyIn(
            """
            COPY intake_guardians (line, position, first_name, last_name, relationship, email, phone,
                address_line1, address_line2, postal_code, city, payer, emergency_contact, notes) FROM STDIN
            """,
            rows: batch.lazy.flatMap { line in
                line.dossier.guardians.enumerated().map { position, guardian in
                    [
                        String(line.number), String(position), guardian.firstName, guardian.lastName,
                        guardian.relationship, guardian.email, guardian.phone, guardian.address?.line1,
                        guardian.address?.line2, guardian.address?.postalCode, guardian.address?.city,
                        guardian.isPayer.postgresText, guardian.isEmergencyContact.postgresText, guardian.notes,
                    ]
                }
            })
        try connection.copyIn(
            """
            COPY intake_trusted_persons (line, position, first_name, last_name, relationship, phone,
                can_pick_up, emergency_contact, notes) FROM STDIN
            """,
            rows: batch.lazy.flatMap { line in
                line.dossier.trustedPersons.enumerated().map { position, person in
                    [
                        String(line.number), String(position), person.firstName, person.lastName, person.relationship,
                        person.phone, person.canPickUp.postgresText, person.isEmergencyContact.postgresText, person.notes,
                    ]
                }
            })
        try connection.copyIn(
            "COPY intake_documents (line, position, kind, filename, media_type, size, sha256, notes) FROM STDIN",
            rows: batch.lazy.flatMap { line in
                line.dossier.documents.enumerated().map { position, document in
                    [
                        String(line.number), String(position), document.kind, document.filename, document.mediaType,
                        String(document.size), document.sha256, document.notes,
                    ]
                }
            })
    }

    /// Takes out of the batch the dossiers that exist and are not returned: they are read-only
    /// while submitted, under review or decided. A dossier also stays with its structure: a line
    /// naming another one is refused rather than leave the dossier with another structure's account.
    private func refuseReadOnly(_ batch: [IntakeLine]) throws -> [RejectedLine] {
        let rows = try connection.query(
            """
            WITH locked AS (
                SELECT d.external_id, d.state, d.structure_id, st.code AS structure FROM dossiers d
                JOIN structures st ON st.id = d.structure_id
                JOIN intake_dossiers s USING (external_id)
                FOR UPDATE OF d
            ), refused AS (
                DELETE FROM intake_dossiers s USING locked l
                WHERE s.external_id = l.external_id AND (l.state <> 'returned' OR l.structure_id <> s.structure_id)
                RETURNING s.line, l.state, l.state <> 'returned' AS read_only,
                          l.structure_id <> s.structure_id AS moved, l.structure
            )
            SELECT line, state::text AS state, read_only, moved, structure FROM refused
            """)
        let byLine = Dictionary(batch.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
        return try rows.compactMap { row in
            guard let line = byLine[try row.decode(Int.self, "line")] else { return nil }
            let id = line.dossier.externalID
            var reasons: [String] = []
            if try row.decode(Bool.self, "read_only") {
                let state = try row.decode(String.self, "state")
                reasons.append(
                    "$.external_id: dossier \(id) is \(state) and read-only; "
                        + "it can be sent again only after it has been returned")
            }
            if try row.decode(Bool.self, "moved") {
                let structure = try row.decode(String.self, "structure")
                reasons.append(
                    "$.structure: dossier \(id) belongs to the structure \(structure); "
                        + "it cannot be sent again to another one")
            }
            return RejectedLine(line: line.number, externalID: id, reasons: reasons, input: line.input)
        }
    }

    static let createStaging = """
        CREATE TEMP TABLE IF NOT EXISTS intake_dossiers (
            line integer PRIMARY KEY, external_id text UNIQUE, structure_id bigint, account_email text,
            account_first_name text, account_last_name text, locale text, confirmed boolean,
            terms_accepted_at timestamptz, house_rules_accepted_at timestamptz, submitted_at timestamptz,
            notes text, content jsonb, account_id bigint, dossier_id bigint, resubmission boolean
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS intake_children (
            line integer, position integer, first_name text, last_name text, birth_date date, school text,
            grade text, services text[], notes text
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS intake_guardians (
            line integer, position integer, first_name text, last_name text, relationship text, email text,
            phone text, address_line1 text, address_line2 text, postal_code text, city text, payer boolean,
            emergency_contact boolean, notes text
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS intake_trusted_persons (
            line integer, position integer, first_name text, last_name text, relationship text, phone text,
            can_pick_up boolean, emergency_contact boolean, notes text
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS intake_documents (
            line integer, position integer, kind text, filename text, media_type text, size bigint,
            sha256 text, notes text
        ) ON COMMIT DELETE ROWS;
        """

    /// Accounts, then dossiers (new ones as drafts; returned ones emptied and bumped to a new
    /// version), then their parts, then the submission itself and the queue rows. Parts can only be
    /// written while the family owns the dossier, hence the order.
    static let moveIntoTables = """
        WITH accounts_in AS (
            SELECT DISTINCT ON (structure_id, lower(account_email))
                   structure_id, account_email, account_first_name, account_last_name
            FROM intake_dossiers ORDER BY structure_id, lower(account_email), line DESC
        ), upserted AS (
            INSERT INTO accounts (structure_id, email, first_name, last_name)
            SELECT structure_id, account_email, account_first_name, account_last_name FROM accounts_in
            ON CONFLICT (structure_id, lower(email)) DO UPDATE
                SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name
            RETURNING id, structure_id, lower(email) AS email
        )
        UPDATE intake_dossiers s SET account_id = u.id
        FROM upserted u WHERE u.structure_id = s.structure_id AND u.email = lower(s.account_email);

        UPDATE intake_dossiers s SET dossier_id = d.id, resubmission = true
        FROM dossiers d WHERE d.external_id = s.external_id;

        DELETE FROM children WHERE dossier_id IN (SELECT dossier_id FROM intake_dossiers WHERE resubmission);
        DELETE FROM guardians WHERE dossier_id IN (SELECT dossier_id FROM intake_dossiers WHERE resubmission);
        DELETE FROM trusted_persons WHERE dossier_id IN (SELECT dossier_id FROM intake_dossiers WHERE resubmission);
        DELETE FROM documents WHERE dossier_id IN (SELECT dossier_id FROM intake_dossiers WHERE resubmission);

        UPDATE dossiers d SET account_id = s.account_id, version = d.version + 1, locale = s.locale,
               confirmed = s.confirmed, terms_accepted_at = s.terms_accepted_at,
               house_rules_accepted_at = s.house_rules_accepted_at, submitted_at = s.submitted_at,
               notes = s.notes, content = s.content
        FROM intake_dossiers s WHERE s.resubmission AND d.id = s.dossier_id;

        WITH created AS (
            INSERT INTO dossiers (structure_id, account_id, external_id, state, locale, confirmed,
                terms_accepted_at, house_rules_accepted_at, submitted_at, notes, content)
            SELECT structure_id, account_id, external_id, 'draft', locale, confirmed, terms_accepted_at,
                   house_rules_accepted_at, submitted_at, notes, content
            FROM intake_dossiers WHERE dossier_id IS NULL ORDER BY line
            RETURNING id, external_id
        )
        UPDATE intake_dossiers s SET dossier_id = c.id, resubmission = false
        FROM created c WHERE c.external_id = s.external_id;

        INSERT INTO children (dossier_id, position, first_name, last_name, birth_date, school, grade, services, notes)
        SELECT s.dossier_id, c.position, c.first_name, c.last_name, c.birth_date, c.school, c.grade, c.services, c.notes
        FROM intake_children c JOIN intake_dossiers s USING (line);

        INSERT INTO guardians (dossier_id, position, first_name, last_name, relationship, email, phone,
            address_line1, address_line2, postal_code, city, payer, emergency_contact, notes)
        SELECT s.dossier_id, g.position, g.first_name, g.last_name, g.relationship, g.email, g.phone,
               g.address_line1, g.address_line2, g.postal_code, g.city, g.payer, g.emergency_contact, g.notes
        FROM intake_guardians g JOIN intake_dossiers s USING (line);

        INSERT INTO trusted_persons (dossier_id, position, first_name, last_name, relationship, phone,
            can_pick_up, emergency_contact, notes)
        SELECT s.dossier_id, t.position, t.first_name, t.last_name, t.relationship, t.phone, t.can_pick_up,
               t.emergency_contact, t.notes
        FROM intake_trusted_persons t JOIN intake_dossiers s USING (line);

        INSERT INTO documents (dossier_id, position, kind, filename, media_type, size, sha256, notes)
        SELECT s.dossier_id, d.position, d.kind, d.filename, d.media_type, d.size, d.sha256, d.notes
        FROM intake_documents d JOIN intake_dossiers s USING (line);

        UPDATE dossiers d SET state = 'submitted' FROM intake_dossiers s WHERE d.id = s.dossier_id;

        -- Due at submission time, so the oldest submission is claimed first.
        INSERT INTO dossier_queue (dossier_id, job, run_at)
        SELECT dossier_id, 'process', least(submitted_at, now()) FROM intake_dossiers ORDER BY line
        ON CONFLICT DO NOTHING;

        DELETE FROM intake_children; DELETE FROM intake_guardians;
        DELETE FROM intake_trusted_persons; DELETE FROM intake_documents;
        """
}
