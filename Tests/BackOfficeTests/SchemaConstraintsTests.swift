import BackOffice
import Dossiers
import Foundation
import Postgres
import Testing

/// Each constraint and trigger of `sql/`, tried and refused by PostgreSQL itself.
@Suite("The schema refuses what the rules forbid")
struct SchemaConstraintsTests {
    static let dossierOf = "(SELECT id FROM dossiers WHERE external_id = $1)"

    // MARK: - The state machine

    @Test func theTransitionsTableIsTheSwiftOne() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        var table: Set<Transition> = []
        for row in try connection.query("SELECT from_state::text AS f, to_state::text AS t FROM dossier_transitions") {
            let from = try #require(DossierState(rawValue: try row.decode(String.self, "f")))
            let to = try #require(DossierState(rawValue: try row.decode(String.self, "t")))
            table.insert(Transition(from: from, to: to))
        }
        #expect(table == DossierState.allowedTransitions)
        #expect(table.count == 11)
        // And the enum has the Swift enum's values, in order.
        let labels = try connection.query("SELECT unnest(enum_range(NULL::dossier_state))::text AS s").map {
            try $0.decode(String.self, "s")
        }
        #expect(labels == DossierState.allCases.map(\.rawValue))
    }

    @Test(arguments: [
        ("VLF-0001", "planning_open"), // submitted → planning_open skips validation
        ("VLF-0001", "draft"),
        ("VLF-0001", "rejected"), // only after review
    ])
    func anIllegalTransitionOfASubmittedDossierIsRefused(externalID: String, to state: String) throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            "UPDATE dossiers SET state = $2::dossier_state WHERE external_id = $1", [externalID, state])
        #expect(error.sqlState == "ETK02")
        #expect(error.message == "dossier \(externalID) cannot move from submitted to \(state)")
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = $1", [externalID], as: String.self)
                == "submitted")
    }

    @Test(arguments: [
        ("VLF-0002", "returned", "validated"),
        ("VLF-0002", "returned", "planning_open"),
        ("VLF-0001", "planning_open", "validated"),
        ("PTL-0001", "awaiting_review", "planning_open"),
    ])
    func anIllegalTransitionOfAProcessedDossierIsRefused(externalID: String, from: String, to: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            "UPDATE dossiers SET state = $2::dossier_state WHERE external_id = $1", [externalID, to])
        #expect(error.sqlState == "ETK02")
        #expect(error.message == "dossier \(externalID) cannot move from \(from) to \(to)")
    }

    @Test func aDossierCannotBeCreatedAlreadyDecided() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            """
            INSERT INTO dossiers (structure_id, account_id, external_id, state, confirmed, submitted_at, content)
            SELECT structure_id, account_id, 'NEW-1', 'validated', true, now(), '{}' FROM dossiers
            WHERE external_id = 'VLF-0001'
            """)
        #expect(error.sqlState == "ETK02")
        #expect(error.message.contains("starts as draft or submitted, not validated"))
    }

    @Test func aLegalTransitionIsRecordedWithItsActor() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase(), actor: "admin:alice")
        defer { connection.close() }
        try connection.query("UPDATE dossiers SET state = 'validated' WHERE external_id = 'PTL-0001'")
        let event = try #require(
            try connection.query(
                "SELECT from_state::text AS f, to_state::text AS t, actor FROM dossier_events WHERE dossier_id = \(Self.dossierOf) ORDER BY id DESC LIMIT 1",
                ["PTL-0001"]
            ).first)
        #expect(try event.decode(String.self, "f") == "awaiting_review")
        #expect(try event.decode(String.self, "t") == "validated")
        #expect(try event.decode(String.self, "actor") == "admin:alice")
    }

    @Test func aStateChangeWithoutAnActorIsRefused() throws {
        let conninfo = try Fixture.processedExamplesDatabase()
        let connection = try Connection(conninfo) // names no actor
        defer { connection.close() }
        let events = try connection.scalar("SELECT count(*) FROM dossier_events", as: Int.self)
        let error = try connection.refusal("UPDATE dossiers SET state = 'validated' WHERE external_id = 'PTL-0001'")
        #expect(error.sqlState == "ETK05")
        #expect(error.message.contains("SET eticket.actor"))
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'PTL-0001'", as: String.self)
                == "awaiting_review")
        #expect(try connection.scalar("SELECT count(*) FROM dossier_events", as: Int.self) == events)
    }

    @Test(arguments: ["", nil] as [String?])
    func aDossierSubmittedWithoutAnActorIsRefused(actor: String?) throws {
        let connection = try Connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        if let actor { try connection.query("SELECT set_config('eticket.actor', $1, false)", [actor]) }
        let error = try connection.refusal(
            """
            INSERT INTO dossiers (structure_id, account_id, external_id, state, confirmed, submitted_at, content)
            SELECT structure_id, account_id, 'NEW-2', 'submitted', true, now(), '{}' FROM dossiers
            WHERE external_id = 'VLF-0001'
            """)
        #expect(error.sqlState == "ETK05")
        #expect(try connection.scalar("SELECT count(*) FROM dossiers WHERE external_id = 'NEW-2'", as: Int.self) == 0)
    }

    // MARK: - Read-only after sending

    @Test(arguments: [
        ("children", "UPDATE children SET first_name = 'Changed' WHERE dossier_id = \(dossierOf)"),
        ("children", "DELETE FROM children WHERE dossier_id = \(dossierOf)"),
        ("guardians", "UPDATE guardians SET payer = NOT payer WHERE dossier_id = \(dossierOf)"),
        (
            "guardians",
            "INSERT INTO guardians (dossier_id, position, first_name, last_name) SELECT \(dossierOf), 9, 'A', 'B'"
        ),
        ("trusted_persons", "UPDATE trusted_persons SET phone = '0000' WHERE dossier_id = \(dossierOf)"),
        ("documents", "DELETE FROM documents WHERE dossier_id = \(dossierOf)"),
    ])
    func thePartsOfASubmittedDossierAreReadOnly(table: String, sql: String) throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(sql, ["VLF-0001"])
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier VLF-0001 is submitted and read-only: \(table) cannot change")
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM children WHERE dossier_id = \(Self.dossierOf)", ["VLF-0001"], as: Int.self) == 2)
    }

    static let newSubmittedDossier = """
        INSERT INTO dossiers (structure_id, account_id, external_id, state, confirmed, submitted_at, content)
        SELECT structure_id, account_id, 'NEW-3', 'submitted', true, now(), '{}' FROM dossiers
        WHERE external_id = 'VLF-0001'
        """
    static let childOfNew = """
        INSERT INTO children (dossier_id, position, first_name, last_name, birth_date)
        SELECT id, 0, 'Lou', 'Neuf', '2019-05-04' FROM dossiers WHERE external_id = 'NEW-3'
        """

    /// The import writes a dossier as submitted, then its parts, in one transaction (migration 011).
    @Test func theTransactionThatSubmitsADossierWritesItsPartsAndNoOtherDoes() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        try connection.transaction { connection in
            try connection.query(Self.newSubmittedDossier)
            try connection.query(Self.childOfNew)
        }
        #expect(try connection.scalar("SELECT count(*) FROM children WHERE first_name = 'Lou'", as: Int.self) == 1)

        let error = try connection.refusal(
            "UPDATE children SET school = 'Ailleurs' WHERE dossier_id = \(Self.dossierOf)", ["NEW-3"])
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier NEW-3 is submitted and read-only: children cannot change")
    }

    /// Writing the dossier row again in a later transaction, unchanged, is no submission.
    @Test func aNoOpUpdateOfASubmittedDossierDoesNotOpenItsParts() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        try connection.execute(script: "BEGIN")
        try connection.query("UPDATE dossiers SET state = state WHERE external_id = 'VLF-0001'")
        let error = try connection.refusal(
            "DELETE FROM children WHERE dossier_id = \(Self.dossierOf)", ["VLF-0001"])
        try connection.execute(script: "ROLLBACK")
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier VLF-0001 is submitted and read-only: children cannot change")
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM children WHERE dossier_id = \(Self.dossierOf)", ["VLF-0001"], as: Int.self) == 2)
    }

    /// The submission event of a savepoint is a subtransaction's: the rule fails closed.
    @Test func aDossierSubmittedInASavepointCannotTakeItsParts() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        try connection.execute(script: "BEGIN")
        try connection.execute(script: "SAVEPOINT s")
        try connection.query(Self.newSubmittedDossier)
        let error = try connection.refusal(Self.childOfNew)
        try connection.execute(script: "ROLLBACK")
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier NEW-3 is submitted and read-only: children cannot change")
    }

    @Test(arguments: ["VLF-0001", "PTL-0001"])
    func thePartsOfAProcessedDossierAreReadOnly(externalID: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            "UPDATE children SET school = 'Ailleurs' WHERE dossier_id = \(Self.dossierOf)", [externalID])
        #expect(error.sqlState == "ETK01")
        #expect(error.message.contains("dossier \(externalID) is"))
    }

    @Test func aReturnedDossierIsTheFamilysToEdit() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let changed = try connection.query(
            "UPDATE guardians SET payer = true WHERE dossier_id = \(Self.dossierOf)", ["VLF-0002"]
        ).rowsAffected
        #expect(changed == 1)
        try connection.query("UPDATE dossiers SET notes = 'corrigé' WHERE external_id = 'VLF-0002'")
        #expect(try connection.scalar("SELECT notes FROM dossiers WHERE external_id = 'VLF-0002'", as: String.self) == "corrigé")
    }

    @Test(arguments: [
        ("submitted", "UPDATE dossiers SET notes = 'edited' WHERE external_id = 'VLF-0001'"),
        ("submitted", "UPDATE dossiers SET confirmed = false WHERE external_id = 'VLF-0001'"),
        ("submitted", "UPDATE dossiers SET content = '{}' WHERE external_id = 'VLF-0001'"),
        ("submitted", "UPDATE dossiers SET version = version + 1 WHERE external_id = 'VLF-0001'"),
    ])
    func aSubmittedDossierItselfIsReadOnly(state: String, sql: String) throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(sql)
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier VLF-0001 is \(state) and read-only")
    }

    /// A change to each column the family wrote, for the column-by-column read-only check (the
    /// state trigger lists the columns; a new column must join both lists).
    static let familyColumnChanges: [(column: String, assignment: String)] = [
        ("structure_id", "structure_id = (SELECT id FROM structures WHERE code = 'saint-amour')"),
        // Another account of the same structure: another structure's is refused by its foreign key (016).
        (
            "account_id",
            "account_id = (SELECT min(a.id) FROM accounts a WHERE a.id <> account_id AND a.structure_id = dossiers.structure_id)"
        ),
        ("external_id", "external_id = 'VLF-9999'"),
        ("version", "version = version + 1"),
        ("locale", "locale = 'en'"),
        ("confirmed", "confirmed = false"),
        ("terms_accepted_at", "terms_accepted_at = now() - interval '1 day'"),
        ("house_rules_accepted_at", "house_rules_accepted_at = NULL"),
        ("submitted_at", "submitted_at = submitted_at + interval '1 second'"),
        ("notes", "notes = 'edited'"),
        ("content", "content = content || '{\"notes\": \"edited\"}'"),
        ("created_at", "created_at = created_at - interval '1 day'"),
        ("purged_at", "purged_at = now()"),
    ]

    @Test func everyColumnButTheStateIsReadOnlyOnceSent() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        let columns = try connection.query(
            """
            SELECT column_name::text AS name FROM information_schema.columns
            WHERE table_name = 'dossiers' AND column_name NOT IN ('id', 'state', 'updated_at')
            """
        ).map { try $0.decode(String.self, "name") }
        #expect(Set(columns) == Set(Self.familyColumnChanges.map(\.column)))
        for change in Self.familyColumnChanges {
            let error = try connection.refusal("UPDATE dossiers SET \(change.assignment) WHERE external_id = 'VLF-0001'")
            guard change.column != "structure_id" else {
                // Its account stays in the old structure: the foreign key of 016 refuses it first.
                #expect(error.sqlState == "23503")
                #expect(error.message.contains("dossiers_account_of_its_structure"))
                continue
            }
            #expect(error.sqlState == "ETK01", "\(change.column)")
            #expect(error.message == "dossier VLF-0001 is submitted and read-only", "\(change.column)")
        }
    }

    /// The check compares stored bytes: a column set to itself is no change (NULLs included), while
    /// a jsonb rewritten to a value equal by `=` but spelled otherwise (182734.0 for 182734) is one.
    @Test func settingColumnsToThemselvesIsNoChangeButRespellingTheContentIs() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        let columns = Self.familyColumnChanges.map(\.column)
        let snapshot = "SELECT (\(columns.joined(separator: ", ")))::text FROM dossiers WHERE external_id = 'VLF-0001'"
        let before = try connection.scalar(snapshot, as: String.self)
        try connection.query(
            "UPDATE dossiers SET \(columns.map { "\($0) = \($0)" }.joined(separator: ", ")) WHERE external_id = 'VLF-0001'")
        #expect(try connection.scalar(snapshot, as: String.self) == before)

        let respelled = "jsonb_set(content, '{documents,0,size}', to_jsonb((content #>> '{documents,0,size}')::numeric + 0.0))"
        #expect(
            try connection.scalar("SELECT \(respelled) = content FROM dossiers WHERE external_id = 'VLF-0001'", as: Bool.self)
                == true)
        let error = try connection.refusal("UPDATE dossiers SET content = \(respelled) WHERE external_id = 'VLF-0001'")
        #expect(error.sqlState == "ETK01")
    }

    /// Content large enough to be compressed or stored out of line is compared by value, not by
    /// where it is stored: an untouched one lets the dossier move, a changed one is refused.
    @Test(arguments: [
        // ~26 kB that compress below the TOAST threshold: kept inline, compressed.
        (
            "repeat('compressible ', 2000)",
            "SELECT pg_column_compression(content) IS NOT NULL FROM dossiers WHERE external_id = 'VLF-0002'"
        ),
        // ~22 kB of hex digits, which pglz cannot shrink: stored out of line, in the TOAST table.
        (
            "(SELECT string_agg(md5(n::text), '') FROM generate_series(1, 700) AS n)",
            "SELECT pg_relation_size(reltoastrelid) > 0 FROM pg_class WHERE relname = 'dossier_records'"
        ),
    ])
    func aLargeContentIsComparedByValue(padding: String, storedAsIntended: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        // VLF-0002 was returned: its family may change it, then send it again.
        try connection.query(
            "UPDATE dossiers SET content = content || jsonb_build_object('padding', \(padding)) WHERE external_id = 'VLF-0002'")
        try connection.query("UPDATE dossiers SET state = 'submitted' WHERE external_id = 'VLF-0002'")
        try connection.query("UPDATE dossiers SET state = 'validated' WHERE external_id = 'VLF-0002'")
        #expect(
            try connection.scalar("SELECT state::text FROM dossiers WHERE external_id = 'VLF-0002'", as: String.self)
                == "validated")
        #expect(try connection.scalar(storedAsIntended, as: Bool.self) == true)
        let error = try connection.refusal(
            "UPDATE dossiers SET content = content || '{\"padding\": \"changed\"}' WHERE external_id = 'VLF-0002'")
        #expect(error.sqlState == "ETK01")
    }

    @Test func aPlanningOpenDossiersNotesAreReadOnly() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal("UPDATE dossiers SET notes = 'edited' WHERE external_id = 'VLF-0001'")
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier VLF-0001 is planning_open and read-only")
    }

    // MARK: - Append-only history

    @Test(arguments: [
        "UPDATE dossier_events SET actor = 'someone-else'",
        "DELETE FROM dossier_events",
        "TRUNCATE dossier_events",
        "UPDATE decisions SET reason = 'rewritten'",
        "DELETE FROM decisions",
        "TRUNCATE decisions CASCADE", // takes dossier_events with it, whose trigger says no
    ])
    func theAuditTrailIsAppendOnly(sql: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let events = try connection.scalar("SELECT count(*) FROM dossier_events", as: Int.self)
        let decisions = try connection.scalar("SELECT count(*) FROM decisions", as: Int.self)
        #expect(events ?? 0 >= 8) // four submissions, four decisions (and a rights opening)
        #expect(decisions == 4)
        let error = try connection.refusal(sql)
        #expect(error.sqlState == "ETK03")
        #expect(error.message.contains("is append-only"))
        #expect(try connection.scalar("SELECT count(*) FROM dossier_events", as: Int.self) == events)
        #expect(try connection.scalar("SELECT count(*) FROM decisions", as: Int.self) == decisions)
    }

    // MARK: - Reservation rights and the reservation gate

    static let rightSQL = """
        INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
        SELECT d.id, p.id, c.id, d.structure_id, ARRAY[v.id], 'admin:test'
        FROM dossiers d JOIN children c ON c.dossier_id = d.id AND c.position = 0
        JOIN services v ON v.structure_id = d.structure_id AND v.code = 'cantine'
        JOIN periods p ON p.structure_id = d.structure_id AND p.code = '2026-2027'
        WHERE d.external_id = $1
        """

    @Test func rightsNeedAValidatedDossier() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(Self.rightSQL, ["VLF-0002"])
        #expect(error.sqlState == "ETK04")
        #expect(error.message == "reservation rights need a validated dossier; this one is returned")
    }

    @Test func rightsAreForTheDossiersOwnChildren() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            """
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
            SELECT d.id, p.id, other.id, d.structure_id, ARRAY[v.id], 'admin:test'
            FROM dossiers d
            JOIN children other ON other.dossier_id = (SELECT id FROM dossiers WHERE external_id = 'VLF-0002')
            JOIN services v ON v.structure_id = d.structure_id AND v.code = 'cantine'
            JOIN periods p ON p.structure_id = d.structure_id
            WHERE d.external_id = 'VLF-0001'
            """)
        #expect(error.sqlState == "ETK04")
        #expect(error.message.contains("does not belong to dossier"))
    }

    @Test func rightsAreNeverOpenedTwice() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(Self.rightSQL, ["VLF-0001"]) // Zoé already has cantine
        #expect(error.sqlState == "23505")
    }

    /// Reserves `service` on `day` for the child at `position` of `externalID`.
    static let reserveSQL = """
        INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
        SELECT c.id, v.id, p.id, $4::date, 'family'
        FROM dossiers d JOIN children c ON c.dossier_id = d.id AND c.position = $2
        JOIN services v ON v.structure_id = d.structure_id AND v.code = $3
        JOIN periods p ON p.structure_id = d.structure_id AND p.code = '2026-2027'
        WHERE d.external_id = $1
        """

    @Test(arguments: [
        // Zoé asked for cantine and mercredi only.
        ("VLF-0001", 0, "garderie-matin", "2026-09-03", "the child has no reservation rights for this service and period"),
        ("VLF-0001", 0, "cantine", "2026-12-25", "2026-12-25 is a closed date of the period 2026-2027"),
        ("VLF-0001", 1, "garderie-matin", "2026-11-11", "2026-11-11 is a closed date of the period 2026-2027"),
        ("VLF-0001", 0, "cantine", "2026-09-02", "the service does not run on 2026-09-02 (a Wednesday)"),
        ("VLF-0001", 1, "mercredi", "2026-09-03", "the service does not run on 2026-09-03 (a Thursday)"),
        ("VLF-0001", 0, "cantine", "2026-08-31", "2026-08-31 is outside the period 2026-2027 (2026-09-01 to 2027-07-03)"),
        ("VLF-0001", 1, "cantine", "2027-07-05", "2027-07-05 is outside the period 2026-2027 (2026-09-01 to 2027-07-03)"),
        ("VLF-0002", 0, "cantine", "2026-09-03", "the child's dossier is returned, not validated"),
    ])
    func aReservationTheGateRefuses(
        externalID: String, child: Int, service: String, day: String, message: String
    ) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(Self.reserveSQL, [externalID, child, service, day])
        #expect(error.sqlState == "ETK04")
        #expect(error.message == message)
        #expect(try connection.scalar("SELECT count(*) FROM reservations", as: Int.self) == 0)
    }

    @Test(arguments: [
        (0, "cantine", "2026-09-03"), (0, "mercredi", "2026-09-02"), (1, "garderie-matin", "2027-07-02"),
        (1, "cantine", "2026-09-01"),
    ])
    func aReservationTheGateAllows(child: Int, service: String, day: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let inserted = try connection.query(Self.reserveSQL, ["VLF-0001", child, service, day]).rowsAffected
        #expect(inserted == 1)
        #expect(try connection.scalar("SELECT count(*) FROM reservations WHERE day = $1::date", [day], as: Int.self) == 1)
        // The same day twice is one reservation.
        #expect(try connection.refusal(Self.reserveSQL, ["VLF-0001", child, service, day]).sqlState == "23505")
    }

    // MARK: - Checks and unique indexes

    @Test(arguments: [
        ("2026-09-01", "2026-12-31", "{2027-01-05}"),
        ("2026-09-01", "2026-12-31", "{2026-10-01,2026-08-31}"),
        ("2026-09-01", "2026-08-31", "{}"),
    ])
    func aPeriodKeepsItsClosedDatesInside(startsOn: String, endsOn: String, closed: String) throws {
        let connection = try Fixture.connection(try Fixture.exampleStructuresDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            """
            INSERT INTO periods (structure_id, code, label, starts_on, ends_on, closed_dates)
            SELECT id, 'bad', 'Bad', $1::date, $2::date, $3::date[] FROM structures WHERE code = 'villefranche'
            """, [startsOn, endsOn, closed])
        #expect(error.sqlState == "23514")
        #expect(error.message.contains("periods"))
    }

    @Test func anExistingPeriodCannotLoseItsClosedDates() throws {
        let connection = try Fixture.connection(try Fixture.exampleStructuresDatabase())
        defer { connection.close() }
        // Shortening the period would leave 2026-12-25 outside it.
        let error = try connection.refusal("UPDATE periods SET ends_on = '2026-12-01' WHERE code = '2026-2027'")
        #expect(error.sqlState == "23514")
    }

    @Test(arguments: ["{8}", "{0}", "{1,2,8}", "{}"])
    func aServiceRunsOnISOWeekdays(weekdays: String) throws {
        let connection = try Fixture.connection(try Fixture.exampleStructuresDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            """
            INSERT INTO services (structure_id, code, label, weekdays)
            SELECT id, 'bad', 'Bad', $1::smallint[] FROM structures WHERE code = 'villefranche'
            """, [weekdays])
        #expect(error.sqlState == "23514")
        #expect(error.message.contains("services"))
    }

    @Test func onePlanningOpenEmailPerDossierAndPeriod() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let insert = """
            INSERT INTO email_outbox (dossier_id, structure_id, kind, period_id, message_id, sender, recipient,
                subject, message)
            SELECT d.id, d.structure_id, 'planning-open', p.id, $1, s.sender_email, a.email, 's', '\\x00'::bytea
            FROM dossiers d JOIN periods p ON p.structure_id = d.structure_id JOIN structures s ON s.id = d.structure_id
            JOIN accounts a ON a.id = d.account_id
            WHERE d.external_id = 'VLF-0001'
            """
        #expect(try connection.query(insert, ["one@example.org"]).rowsAffected == 1)
        let error = try connection.refusal(insert, ["two@example.org"])
        #expect(error.sqlState == "23505")
        #expect(error.constraint == "email_outbox_one_planning_open")
        #expect(try connection.scalar("SELECT count(*) FROM email_outbox WHERE kind = 'planning-open'", as: Int.self) == 1)
    }
}
