import Dossiers
import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Each statement of the import against the migrated schema, one test per ``IntakeStore`` method,
/// inside a transaction as the import runs them.
@Suite("The import's statements")
struct IntakeStoreTests {
    /// An example line parsed as the import parses it, under `externalID`.
    static func line(_ externalID: String, number: Int = 1, on connection: Connection, from example: String = "VLF-0001") throws
        -> DossierImporter.IntakeLine
    {
        let text = try #require(try Fixture.exampleLines()[example])
            .replacingOccurrences(of: #""external_id": "\#(example)""#, with: #""external_id": "\#(externalID)""#)
        let structures = try IntakeStore(connection: connection).knownStructures()
        switch DossierImporter.parse(ArraySlice(Array(text.utf8)), line: number, structures: structures) {
        case .success(let line): return line
        case .failure(let rejected): throw BackOfficeError(.failure, "\(rejected.reasons)")
        }
    }

    /// Stores `line` as a new dossier through the store's methods, as IntakeWriter does; returns its id.
    @discardableResult
    static func submit(_ line: DossierImporter.IntakeLine, with store: IntakeStore, session: IntakeStore.Session) throws -> Int64
    {
        let accounts = try IntakeWriter(connection: store.connection).storeAccounts([line], session: session)
        let id = try #require(try store.drawIDs(for: "dossier_records", 1).first)
        try store.insertSubmitted([try IntakeWriter.record(line, id: id, accounts: accounts)], session: session)
        return id
    }

    @Test func aBatchDeclaresTheImportAndReadsTheDecisionClock() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try connection.transaction { connection in
            let session = try IntakeStore(connection: connection).beginBatch()
            #expect(!session.rowSecurityActive) // the owner
            #expect(session.now == Fixture.storyDate)
            #expect(try connection.scalar("SELECT current_setting('eticket.actor')", as: String.self) == "import")
        }
        let intake = try Connection("\(conninfo) user=\(try AuditTruthTests.login("eticket_intake", on: conninfo))")
        defer { intake.close() }
        let active = try intake.transaction { try IntakeStore(connection: $0).beginBatch().rowSecurityActive }
        #expect(active)
    }

    @Test func knownDossiersAreFoundAndLockedOthersAreNot() throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try connection.transaction { connection in
            let known = try IntakeStore(connection: connection).lockDossiers(externalIDs: ["VLF-0002", "NOBODY-1"])
            let vlf = try #require(known.first)
            #expect(known.count == 1)
            #expect(vlf.externalID == "VLF-0002" && vlf.state == "returned" && vlf.structureCode == "villefranche")
            #expect(vlf.accountEmail == "k.nguyen@example.org")
            let locks = try connection.scalar(
                "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'RowShareLock' AND relation = 'dossier_status'::regclass",
                as: Int.self)
            #expect(locks == 1)
        }
    }

    @Test func accountsAreInsertedFoundWhateverTheCaseAndRenamed() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let store = IntakeStore(connection: connection)
        let session = try store.beginBatch()
        let structure = try #require(try store.knownStructures()["villefranche"]).id
        let id = try #require(try store.drawIDs(for: "accounts", 1).first)
        let kim = IntakeStore.Account(
            id: id, structureID: structure, email: "Kim@Example.org", firstName: "Kim", lastName: "Nguyen")
        try store.insertAccounts([kim], session: session)
        let key = IntakeStore.AccountKey(structureID: structure, email: "kim@example.org")
        let other = IntakeStore.AccountKey(structureID: structure, email: "nobody@example.org")
        #expect(try store.lookUpAccounts([key, other]) == [key: kim])
        var renamed = kim
        renamed.firstName = "Kimberly"
        try store.renameAccounts([renamed])
        #expect(try store.lookUpAccounts([key])[key]?.firstName == "Kimberly")
    }

    /// The writer's use of them: one account per address whatever its case, named by the batch's
    /// last line; an account sent again unchanged is not written again.
    @Test func anAccountSentAgainUnchangedGetsNoNewRowVersion() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let writer = IntakeWriter(connection: connection)
        let session = try writer.database.beginBatch()
        var first = try Self.line("NEW-1", number: 1, on: connection)
        var second = try Self.line("NEW-2", number: 2, on: connection)
        second.dossier.account.email = first.dossier.account.email.uppercased()
        second.dossier.account.firstName = "Renamed"
        let ids = try writer.storeAccounts([second, first], session: session)
        #expect(ids[1] != nil && ids[1] == ids[2])
        #expect(try connection.scalar("SELECT first_name FROM accounts WHERE id = $1", [ids[1]], as: String.self) == "Renamed")
        let version = try connection.scalar("SELECT xmin::text FROM accounts WHERE id = $1", [ids[1]], as: String.self)
        first.number = 3
        first.dossier.account.firstName = "Renamed"
        #expect(try writer.storeAccounts([first], session: session)[3] == ids[1])
        #expect(try connection.scalar("SELECT xmin::text FROM accounts WHERE id = $1", [ids[1]], as: String.self) == version)
        #expect(try connection.scalar("SELECT count(*) FROM accounts", as: Int.self) == 1)
    }

    @Test func idsAreDrawnAscending() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let ids = try IntakeStore(connection: connection).drawIDs(for: "dossier_records", 50)
        #expect(ids.count == 50 && ids == ids.sorted() && Set(ids).count == 50)
        #expect(try IntakeStore(connection: connection).drawIDs(for: "accounts", 0).isEmpty)
    }

    @Test func aNewDossierIsStoredSubmittedWithItsContentHash() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let id = try connection.transaction { connection in
            let store = IntakeStore(connection: connection)
            return try Self.submit(try Self.line("NEW-1", on: connection), with: store, session: try store.beginBatch())
        }
        #expect(try connection.scalar("SELECT state::text FROM dossiers WHERE id = $1", [id], as: String.self) == "submitted")
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM dossier_events WHERE dossier_id = $1 AND to_state = 'submitted' AND actor = 'import'", [id],
                as: Int.self) == 1)
        let line = try Self.line("NEW-1", on: connection)
        let stored = try connection.scalar(
            "SELECT content_sha256 FROM dossier_records WHERE id = $1", [id], as: PostgresBytes.self)
        #expect(stored?.bytes == SHA256.digest(line.input))
        let hashedByPostgres = try connection.scalar(
            "SELECT sha256(convert_to($1, 'UTF8'))", [line.content], as: PostgresBytes.self)
        #expect(stored == hashedByPostgres)
    }

    @Test func aReturnedDossierSentAgainIsItsNextVersionWithoutItsOldParts() throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let id = try #require(try connection.scalar("SELECT id FROM dossiers WHERE external_id = 'VLF-0002'", as: Int64.self))
        try connection.transaction { connection in
            let store = IntakeStore(connection: connection)
            let session = try store.beginBatch()
            let line = try Self.line("VLF-0002", on: connection, from: "VLF-0002")
            let accounts = try IntakeWriter(connection: connection).storeAccounts([line], session: session)
            try store.resubmit([try IntakeWriter.record(line, id: id, accounts: accounts)], session: session)
            #expect(try connection.scalar("SELECT count(*) FROM children WHERE dossier_id = $1", [id], as: Int.self) == 0)
            #expect(
                try connection.scalar("SELECT content_sha256 FROM dossier_records WHERE id = $1", [id], as: PostgresBytes.self)?
                    .bytes
                    == SHA256.digest(line.input))
        }
        #expect(try connection.scalar("SELECT version FROM dossiers WHERE id = $1", [id], as: Int.self) == 2)
        #expect(try connection.scalar("SELECT state::text FROM dossiers WHERE id = $1", [id], as: String.self) == "submitted")
    }

    @Test func aDossierSentAgainShowsOnlyItsNewVersionsParts() throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let id = try #require(try connection.scalar("SELECT id FROM dossiers WHERE external_id = 'VLF-0002'", as: Int64.self))
        try connection.transaction { connection in
            let store = IntakeStore(connection: connection)
            let session = try store.beginBatch()
            // Another family's children, guardians and papers, sent as VLF-0002's next version.
            let line = try Self.line("VLF-0002", on: connection, from: "VLF-0001")
            let accounts = try IntakeWriter(connection: connection).storeAccounts([line], session: session)
            try store.resubmit([try IntakeWriter.record(line, id: id, accounts: accounts)], session: session)
            try store.copyChildren([IntakeStore.ChildrenOfDossier(dossierID: id, dossier: line.dossier)], session: session)
            func names(_ part: String, _ column: String = "first_name") throws -> [String] {
                try connection.query("SELECT \(column) FROM \(part) WHERE dossier_id = $1 ORDER BY position", [id])
                    .map { try $0.decode(String.self, column) }
            }
            #expect(try names("children") == line.dossier.children.map(\.firstName))
            #expect(try names("guardians") == line.dossier.guardians.map(\.firstName))
            #expect(try names("trusted_persons") == line.dossier.trustedPersons.map(\.firstName))
            #expect(try names("documents", "filename") == line.dossier.documents.map(\.filename))
        }
    }

    @Test func thePartsAreCopiedInThePositionsOfTheLine() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try connection.transaction { connection in
            let store = IntakeStore(connection: connection)
            let session = try store.beginBatch()
            let line = try Self.line("NEW-2", on: connection)
            let id = try Self.submit(line, with: store, session: session)
            try store.copyChildren([IntakeStore.ChildrenOfDossier(dossierID: id, dossier: line.dossier)], session: session)
            let children = try connection.query("SELECT first_name FROM children WHERE dossier_id = $1 ORDER BY position", [id])
                .map { try $0.decode(String.self, "first_name") }
            #expect(children == line.dossier.children.map(\.firstName))
            for (part, count) in [
                ("guardians", line.dossier.guardians.count), ("trusted_persons", line.dossier.trustedPersons.count),
                ("documents", line.dossier.documents.count),
            ] {
                #expect(try connection.scalar("SELECT count(*) FROM \(part) WHERE dossier_id = $1", [id], as: Int.self) == count)
            }
        }
    }

    @Test func newDossiersAreQueuedDueAtSubmissionAndSentAgainOnlyOnce() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        try connection.transaction { connection in
            let store = IntakeStore(connection: connection)
            let session = try store.beginBatch()
            let id = try Self.submit(try Self.line("NEW-3", on: connection), with: store, session: session)
            let due = Date(timeIntervalSince1970: 1_790_000_000)
            try store.enqueueNew([IntakeStore.QueuedDossier(dossierID: id, runAt: due)], session: session)
            try store.enqueueAgain([IntakeStore.QueuedDossier(dossierID: id, runAt: due.addingTimeInterval(60))])
            let rows = try connection.query("SELECT job::text AS job, run_at FROM dossier_queue WHERE dossier_id = $1", [id])
            #expect(rows.count == 1)
            #expect(try rows.first?.decode(String.self, "job") == "process")
            #expect(try rows.first?.decode(Date.self, "run_at") == due)
        }
    }

    @Test func theStructuresAreKnownWithTheirServices() throws {
        let connection = try Connection(try Fixture.exampleStructuresDatabase())
        defer { connection.close() }
        let structures = try IntakeStore(connection: connection).knownStructures()
        #expect(Set(structures.keys) == ["villefranche", "saint-amour"])
        #expect(try #require(structures["villefranche"]).services.count > 0)
    }

    @Test func onlyTablesWhoseSizeChangedMateriallyAreAnalysed() throws {
        let conninfo = try Fixture.decidedExamples()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let store = IntakeStore(connection: connection)
        try store.analyze([("dossier_records", ["id", "external_id"]), ("children", ["id", "dossier_id"])])
        #expect(try store.staleTables(["dossier_records", "children"]).isEmpty)
        // Never analysed: its size is unknown to the planner.
        try connection.execute(script: "CREATE TABLE grown (id int); INSERT INTO grown SELECT generate_series(1, 10)")
        #expect(try store.staleTables(["dossier_records", "grown"]) == ["grown"])
        #expect(
            try connection.scalar(
                "SELECT count(*) FROM pg_stats WHERE tablename = 'dossier_records' AND attname = 'content'", as: Int.self)
                == 0)
    }

    @Test func underRowLevelSecurityRowsAreStagedAndInsertedUnderThePolicies() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let role = try AuditTruthTests.login("eticket_intake", on: conninfo)
        let intake = try Connection("\(conninfo) user=\(role)")
        defer { intake.close() }
        let id = try intake.transaction { connection in
            let store = IntakeStore(connection: connection)
            let session = try store.beginBatch()
            let line = try Self.line("NEW-4", on: connection)
            let id = try Self.submit(line, with: store, session: session)
            try store.copyChildren([IntakeStore.ChildrenOfDossier(dossierID: id, dossier: line.dossier)], session: session)
            try store.enqueueNew([IntakeStore.QueuedDossier(dossierID: id, runAt: line.dossier.submittedAt)], session: session)
            return id
        }
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(try owner.scalar("SELECT count(*) FROM children WHERE dossier_id = $1", [id], as: Int.self) == 2)
        #expect(try owner.scalar("SELECT count(*) FROM dossier_queue WHERE dossier_id = $1", [id], as: Int.self) == 1)
    }
}

@Suite("SHA-256 of a dossier line")
struct SHA256Tests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func theStandardsVectors() {
        #expect(Self.hex(SHA256.digest([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.hex(SHA256.digest(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Self.hex(SHA256.digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// Every length around the 55- and 64-byte padding edges, and a multi-block line, as PostgreSQL hashes them.
    @Test func asPostgreSQLHashesIt() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let lengths = Array(50...130) + [1_000, 4_097]
        for length in lengths {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let expected = try connection.scalar("SELECT sha256($1::bytea)", [PostgresBytes(bytes)], as: PostgresBytes.self)
            #expect(SHA256.digest(bytes) == expected?.bytes, "length \(length)")
        }
    }
}

/// Migrations 025 and 026 from the attacker's side: what the foreign key and the primary keys they
/// replaced refused is still refused.
@Suite("The import's schema, attacked")
struct IntakeSchemaAttackTests {
    /// A dossier names its account: the account stays, in its structure (the key's NO ACTION).
    @Test(arguments: [
        "DELETE FROM accounts WHERE id = (SELECT account_id FROM dossiers WHERE external_id = 'VLF-0001')",
        """
        UPDATE accounts SET structure_id = (SELECT id FROM structures WHERE code = 'saint-amour')
        WHERE id = (SELECT account_id FROM dossiers WHERE external_id = 'VLF-0001')
        """,
    ])
    func anAccountThatADossierNamesStays(sql: String) throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(sql)
        #expect(error.sqlState == "23503", "\(error.message)")
        #expect(error.message.contains("is named by dossiers"))
    }

    @Test func accountsAreNotTruncatedFromUnderTheirDossiers() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        #expect(try connection.refusal("TRUNCATE accounts CASCADE").sqlState == "23503")
    }

    /// An account nothing names may go, and the check does not block renaming a named one.
    @Test func anAccountNothingNamesIsDeletedAndANamedOneRenamed() throws {
        let connection = try Fixture.connection(try Fixture.submittedExamplesDatabase())
        defer { connection.close() }
        try connection.query(
            "INSERT INTO accounts (structure_id, email, first_name, last_name) SELECT id, 'alone@example.org', 'A', 'B' FROM structures LIMIT 1"
        )
        try connection.query("DELETE FROM accounts WHERE email = 'alone@example.org'")
        try connection.query(
            "UPDATE accounts SET first_name = 'Renamed' WHERE id = (SELECT account_id FROM dossiers WHERE external_id = 'VLF-0001')"
        )
    }

    /// An account is of a structure that exists (its foreign key; a statement guard in its place
    /// let a deletion and an insertion in two transactions pass each other, the review of 031):
    /// whether it is inserted by the intake, moved or renumbered by the owner, or its structure
    /// deleted or truncated from under it.
    @Test(arguments: [
        (
            "intake",
            "INSERT INTO accounts (structure_id, email, first_name, last_name) VALUES (999999, 'x@example.org', 'A', 'B')"
        ),
        ("owner", "UPDATE accounts SET structure_id = 999999 WHERE email = 'alone@example.org'"),
        ("owner", "DELETE FROM structures WHERE code = 'no-service'"),
        ("owner", "UPDATE structures SET id = DEFAULT WHERE code = 'no-service'"),
        ("owner", "TRUNCATE structures CASCADE"),
    ])
    func anAccountIsOfAStructureThatExists(role: String, sql: String) throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        // An account that no dossier names, of a structure with no services, periods or
        // documents (whose keys would refuse its deletion first): only the account's rule refuses.
        try owner.query(
            """
            INSERT INTO structures (code, name, postal_codes, registration_code, sender_name, sender_email, review, rights_opening)
            SELECT 'no-service', name, postal_codes, registration_code || '-2', sender_name, sender_email, review, rights_opening
            FROM structures WHERE code = 'saint-amour'
            """)
        try owner.query(
            """
            INSERT INTO accounts (structure_id, email, first_name, last_name)
            SELECT id, 'alone@example.org', 'A', 'B' FROM structures WHERE code = 'no-service'
            """)
        let connection =
            role == "owner"
            ? owner
            : try Fixture.connection(
                "\(conninfo) user=\(try AuditTruthTests.login("eticket_intake", on: conninfo))", actor: "import")
        let error = try connection.refusal(sql)
        #expect(error.sqlState == "23503", "\(error.message)")
        #expect(
            error.message.contains("accounts_structure_id_fkey") || error.message.contains("is named by other tables"),
            "\(error.message)")
    }

    /// The intake cannot file a new dossier under another structure's account, even by COPY's
    /// staging path or by naming an account id that does not exist.
    @Test(arguments: [
        "(SELECT min(id) FROM accounts WHERE structure_id <> d.structure_id)", "(SELECT max(id) + 1000 FROM accounts)",
    ])
    func theIntakeCannotNameAnAccountOutsideTheStructure(account: String) throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try AuditTruthTests.login("eticket_intake", on: conninfo)
        let owner = try Connection(conninfo)
        defer { owner.close() }
        let foreign = try #require(
            try owner.scalar("SELECT \(account) FROM dossiers d WHERE external_id = 'VLF-0001'", as: Int64.self))
        let intake = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { intake.close() }
        let error = try intake.refusal(
            """
            INSERT INTO dossier_records (structure_id, account_id, external_id, confirmed, submitted_at, content)
            SELECT structure_id, $1, 'LEAK-2', confirmed, now(), content FROM dossiers WHERE external_id = 'VLF-0001'
            """, [foreign])
        #expect(error.sqlState == "23503", "\(error.message)")
        #expect(error.message.contains("is not an account of its structure"))
    }

    /// The content hash is 32 bytes, and read-only with the rest of a sent dossier's record.
    @Test(arguments: [
        ("UPDATE dossier_records SET content_sha256 = sha256('forged') WHERE external_id = 'VLF-0001'", "ETK01"),
        ("UPDATE dossier_records SET content_sha256 = '\\x00' WHERE external_id = 'VLF-0002'", "23514"),
    ])
    func theContentHashIsNotRewritten(sql: String, sqlState: String) throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try AuditTruthTests.login("eticket_intake", on: conninfo)
        let intake = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { intake.close() }
        #expect(try intake.refusal(sql).sqlState == sqlState)
    }
}
