import BackOffice
import Foundation
import Postgres
import Synchronization
import Testing

/// A dossier's guardians, trusted persons and documents are views of what the family sent
/// (migration 032): read from the content, written into it, refused as the tables refused.
@Suite("Guardians, trusted persons and documents are read from the content")
struct PartViewsTests {
    static let dossierOf = "(SELECT id FROM dossiers WHERE external_id = $1)"

    /// The owner may edit a returned dossier's parts (009); VLF-0002 is returned (in the database
    /// `conninfo`, a new one by default).
    private func ownerOnAReturnedDossier(_ conninfo: String? = nil) throws -> Connection {
        try Fixture.connection(try conninfo ?? Fixture.processedExamplesDatabase())
    }

    private func guardians(of externalID: String, on connection: Connection) throws -> [String] {
        try connection.query(
            "SELECT first_name FROM guardians WHERE dossier_id = \(Self.dossierOf) ORDER BY position", [externalID]
        ).map { try $0.decode(String.self, "first_name") }
    }

    @Test func thePartsAreTheLinesInItsOrderWithTheContractsDefaults() throws {
        let connection = try ownerOnAReturnedDossier()
        defer { connection.close() }
        try connection.query(
            """
            UPDATE dossier_records SET content = jsonb_set(jsonb_set(content, '{guardians}',
                '[{"first_name": "Ana", "last_name": "B"}, {"first_name": "Zoé", "last_name": "B", "payer": true,
                   "address": {"city": "Lyon"}}]'), '{trusted_persons}', '[{"first_name": "C", "last_name": "D"}]')
            WHERE id = \(Self.dossierOf)
            """, ["VLF-0002"])
        #expect(try guardians(of: "VLF-0002", on: connection) == ["Ana", "Zoé"])
        let rows = try connection.query(
            "SELECT position, payer, emergency_contact, city, address_line1 FROM guardians WHERE dossier_id = \(Self.dossierOf) ORDER BY position",
            ["VLF-0002"])
        #expect(try rows.map { try $0.decode(Int.self, "position") } == [0, 1])
        #expect(try rows.map { try $0.decode(Bool.self, "payer") } == [false, true])
        #expect(try rows.map { try $0.decode(Bool.self, "emergency_contact") } == [false, false])
        #expect(try rows.map { try $0.decodeIfPresent(String.self, "city") } == [nil, "Lyon"])
        #expect(
            try connection.scalar(
                "SELECT can_pick_up FROM trusted_persons WHERE dossier_id = \(Self.dossierOf)", ["VLF-0002"], as: Bool.self)
                == true)
    }

    /// The database does not check the content against the contract (the import and the worker
    /// do): a hand-written value of the wrong type must not make every reader's query fail.
    @Test func contentOfTheWrongShapeReadsAsNothingInsteadOfFailingEveryone() throws {
        let conninfo = try Fixture.processedExamplesDatabase()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        try owner.query(
            """
            UPDATE dossier_records SET content = content
                || '{"guardians": [5, "x", {"first_name": 7, "payer": "yes", "address": "rue"}],
                     "trusted_persons": {"not": "a list"},
                     "documents": [{"size": "12"}, {"size": 1e30}, {"size": -1.5}, {"size": 12, "kind": ["x"]}]}'
            WHERE id = \(Self.dossierOf)
            """, ["VLF-0002"])
        let role = try AuditTruthTests.login("eticket_admin", on: conninfo, administering: "villefranche")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        defer { admin.close() }
        for view in ["guardians", "trusted_persons", "documents"] {
            _ = try admin.query("SELECT * FROM \(view)")
        }
        let guardians = try admin.query(
            "SELECT first_name, payer, address_line1 FROM guardians WHERE dossier_id = \(Self.dossierOf) ORDER BY position",
            ["VLF-0002"])
        #expect(try guardians.map { try $0.decodeIfPresent(String.self, "first_name") } == [nil, nil, "7"])
        #expect(try guardians.map { try $0.decode(Bool.self, "payer") } == [false, false, false])
        #expect(try guardians.map { try $0.decodeIfPresent(String.self, "address_line1") } == [nil, nil, nil])
        #expect(
            try admin.scalar(
                "SELECT count(*) FROM trusted_persons WHERE dossier_id = \(Self.dossierOf)", ["VLF-0002"], as: Int.self)
                == 0)
        let sizes = try admin.query(
            "SELECT size FROM documents WHERE dossier_id = \(Self.dossierOf) ORDER BY position", ["VLF-0002"]
        ).map { try $0.decodeIfPresent(Int64.self, "size") }
        #expect(sizes == [nil, nil, nil, 12])
    }

    @Test func aPartWrittenByHandGoesIntoTheContentAtItsPosition() throws {
        let connection = try ownerOnAReturnedDossier()
        defer { connection.close() }
        let before = try guardians(of: "VLF-0002", on: connection)
        try connection.query(
            """
            INSERT INTO guardians (dossier_id, position, first_name, last_name, city)
            SELECT \(Self.dossierOf), 0, 'Première', 'Tutrice', 'Mâcon'
            """, ["VLF-0002"])
        #expect(try guardians(of: "VLF-0002", on: connection) == ["Première"] + before)
        #expect(
            try connection.scalar(
                "SELECT content->'guardians'->0 FROM dossier_records WHERE id = \(Self.dossierOf)", ["VLF-0002"], as: String.self)
                == #"{"address": {"city": "Mâcon"}, "last_name": "Tutrice", "first_name": "Première"}"#)
        try connection.query("DELETE FROM guardians WHERE dossier_id = \(Self.dossierOf) AND position = 0", ["VLF-0002"])
        #expect(try guardians(of: "VLF-0002", on: connection) == before)
        try connection.query(
            "UPDATE documents SET notes = 'lisible' WHERE dossier_id = \(Self.dossierOf) AND position = 0", ["VLF-0002"])
        #expect(
            try connection.scalar(
                "SELECT content->'documents'->0->>'notes' FROM dossier_records WHERE id = \(Self.dossierOf)", ["VLF-0002"],
                as: String.self) == "lisible")
    }

    /// The owner on VLF-0002, returned, with three guardians A, B, C (of the database `conninfo`).
    private func threeGuardians(_ conninfo: String? = nil) throws -> Connection {
        let connection = try ownerOnAReturnedDossier(conninfo)
        try connection.query(
            """
            UPDATE dossier_records SET content = jsonb_set(content, '{guardians}',
                '[{"first_name": "A", "last_name": "x"}, {"first_name": "B", "last_name": "x"},
                  {"first_name": "C", "last_name": "x"}]')
            WHERE id = \(Self.dossierOf)
            """, ["VLF-0002"])
        return connection
    }

    /// A statement deleting several parts deletes those parts, not the indexes its earlier rows
    /// had already moved (found by review: it deleted A and C of A, B, C and kept B… or C).
    @Test(arguments: [
        ("position IN (0, 1)", ["C"]),
        ("first_name IN ('A', 'C')", ["B"]),
        ("true", [String]()),
    ])
    func aStatementDeletingSeveralPartsDeletesThoseParts(filter: String, left: [String]) throws {
        let connection = try threeGuardians()
        defer { connection.close() }
        let deleted = try connection.query(
            "DELETE FROM guardians WHERE dossier_id = \(Self.dossierOf) AND \(filter)", ["VLF-0002"]
        ).rowsAffected
        #expect(try guardians(of: "VLF-0002", on: connection) == left)
        #expect(deleted == 3 - left.count)
    }

    /// A part changed by a statement is the part its WHERE named, even when the list moved under
    /// it: here by an earlier part of the same statement, as a transaction holding the lock would.
    @Test func aChangedPartIsThePartTheStatementNamed() throws {
        let connection = try threeGuardians()
        defer { connection.close() }
        try connection.query(
            """
            WITH gone AS (DELETE FROM guardians WHERE dossier_id = \(Self.dossierOf) AND first_name = 'A' RETURNING 1)
            UPDATE guardians SET phone = '0600' WHERE dossier_id = \(Self.dossierOf) AND first_name = 'B'
                AND EXISTS (SELECT FROM gone)
            """, ["VLF-0002"])
        let phones = try connection.query(
            "SELECT first_name, phone FROM guardians WHERE dossier_id = \(Self.dossierOf) ORDER BY position", ["VLF-0002"]
        ).map { "\(try $0.decode(String.self, "first_name")):\(try $0.decodeIfPresent(String.self, "phone") ?? "-")" }
        #expect(phones == ["B:0600", "C:-"])
    }

    /// Two sessions: one inserts a guardian first in the list and holds it; the other deletes the
    /// last one by name, waits for the lock, and must delete that one, not whichever moved into its
    /// place (found by review: it deleted A).
    @Test func aPartDeletedWhileAnotherSessionMovesTheListIsThePartNamed() throws {
        let conninfo = try Fixture.processedExamplesDatabase()
        let connection = try threeGuardians(conninfo)
        defer { connection.close() }
        try connection.execute(
            script:
                "BEGIN; INSERT INTO guardians (dossier_id, position, first_name, last_name) SELECT id, 0, 'N', 'x' FROM dossiers WHERE external_id = 'VLF-0002'"
        )
        let deleted = Mutex<Result<Int, any Error>?>(nil)
        Thread {
            let result = Result { () throws -> Int in
                let other = try Fixture.connection(conninfo)
                defer { other.close() }
                return try other.query(
                    "DELETE FROM guardians WHERE dossier_id = \(Self.dossierOf) AND first_name = 'C'", ["VLF-0002"]
                ).rowsAffected
            }
            deleted.withLock { $0 = result }
        }.start()
        let waiting = Date().addingTimeInterval(60)
        while try connection.scalar(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())",
            as: Int.self)
            ?? 0 < 1, Date() < waiting
        {
            usleep(10_000)
        }
        try connection.execute(script: "COMMIT")
        let deadline = Date().addingTimeInterval(60)
        while deleted.withLock({ $0 == nil }) && Date() < deadline { usleep(10_000) }
        #expect(try deleted.withLock { $0 }?.get() == 1)
        #expect(try guardians(of: "VLF-0002", on: connection) == ["N", "A", "B"])
    }

    /// A part that changed after the statement read it is not changed blindly: the statement fails
    /// as a serialization failure, and nothing of it stays.
    @Test func aPartChangedMeanwhileIsASerializationFailure() throws {
        let connection = try threeGuardians()
        defer { connection.close() }
        let error = try connection.refusal(
            """
            WITH changed AS (UPDATE guardians SET phone = '1' WHERE dossier_id = \(Self.dossierOf) AND first_name = 'A' RETURNING 1)
            DELETE FROM guardians WHERE dossier_id = \(Self.dossierOf) AND first_name = 'A' AND EXISTS (SELECT FROM changed)
            """, ["VLF-0002"])
        #expect(error.sqlState == "40001")
        #expect(try guardians(of: "VLF-0002", on: connection) == ["A", "B", "C"])
    }

    /// The contract's integer is a whole number however it is written: the view shows its value,
    /// and `dossier show` reads it (found by review: `2.0` read as NULL).
    @Test(arguments: [("2.0", 2), ("20e-1", 2), ("1000000000000000000", 1_000_000_000_000_000_000), ("-0", 0)])
    func aWholeSizeWrittenAnyWayReadsAsItsValue(literal: String, size: Int64) throws {
        let conninfo = try Fixture.processedExamplesDatabase()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        try connection.query(
            "UPDATE dossier_records SET content = jsonb_set(content, '{documents,0,size}', $2::jsonb) WHERE id = \(Self.dossierOf)",
            ["VLF-0002", literal])
        #expect(
            try connection.scalar(
                "SELECT size FROM documents WHERE dossier_id = \(Self.dossierOf) AND position = 0", ["VLF-0002"], as: Int64.self)
                == size)
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        #expect(try administration.dossierDetails("VLF-0002").documents.first?.size == Int(size))
    }

    @Test(arguments: [
        (
            "INSERT INTO guardians (dossier_id, position, first_name, last_name) SELECT \(dossierOf), 99, 'A', 'B'", "22023",
            "a new guardians of dossier VLF-0002 goes at a position from 0 to 1, not 99"
        ),
        (
            "INSERT INTO guardians (dossier_id, position, first_name) SELECT \(dossierOf), 0, 'A'", "23502",
            #"null value in column "last_name" of relation "guardians" violates not-null constraint"#
        ),
        (
            "UPDATE guardians SET phone = repeat('0', 41) WHERE dossier_id = \(dossierOf)", "23514",
            #"new row for relation "guardians" violates check constraint "guardians_phone_check""#
        ),
        (
            "UPDATE documents SET sha256 = 'not a hash' WHERE dossier_id = \(dossierOf)", "23514",
            #"new row for relation "documents" violates check constraint "documents_sha256_check""#
        ),
        (
            "UPDATE guardians SET position = 1 WHERE dossier_id = \(dossierOf)", "ETK01",
            "guardians cannot move to another dossier or position"
        ),
        (
            "INSERT INTO documents (dossier_id, position, kind, filename, media_type, size, sha256) VALUES (-1, 0, 'x', 'x', 'x', 1, repeat('0', 64))",
            "23503", #"insert or update on table "documents" names dossier -1, which does not exist"#
        ),
    ])
    func aPartWrittenByHandIsCheckedAsTheTablesChecked(sql: String, sqlState: String, message: String) throws {
        let connection = try ownerOnAReturnedDossier()
        defer { connection.close() }
        let content = try connection.scalar(
            "SELECT content::text FROM dossier_records WHERE id = \(Self.dossierOf)", ["VLF-0002"], as: String.self)
        let error = try connection.refusal(sql, sql.contains("$1") ? ["VLF-0002"] : [])
        #expect(error.sqlState == sqlState)
        #expect(error.message == message)
        #expect(
            try connection.scalar(
                "SELECT content::text FROM dossier_records WHERE id = \(Self.dossierOf)", ["VLF-0002"], as: String.self)
                == content)
    }

    /// The intake writes a dossier's parts only in the transaction that submits it: through the
    /// views it cannot slip a guardian into a dossier already sent.
    @Test(arguments: [
        "INSERT INTO guardians (dossier_id, position, first_name, last_name) SELECT \(dossierOf), 0, 'Intrus', 'X'",
        "DELETE FROM documents WHERE dossier_id = \(dossierOf)",
    ])
    func theIntakeCannotWriteThePartsOfADossierAlreadySent(sql: String) throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try AuditTruthTests.login("eticket_intake", on: conninfo)
        let intake = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { intake.close() }
        let error = try intake.refusal(sql, ["VLF-0001"])
        #expect(error.sqlState == "ETK01")
        #expect(try guardians(of: "VLF-0001", on: intake).contains("Intrus") == false)
    }
}
