import Foundation
import Postgres
import Testing

/// Referential integrity without per-row foreign keys (sql/010 and each table's guard): a row that
/// names what does not exist is refused, and what others name is not deleted from under them —
/// tried by the schema's owner, whom no role rule binds.
@Suite("Referential integrity is checked set-based")
struct IntegrityGuardsTests {
    static let missing = 9_999_999

    @Test(arguments: [
        "INSERT INTO children (dossier_id, position, first_name, last_name, birth_date) VALUES (\(missing), 0, 'A', 'B', '2019-01-01')",
        "INSERT INTO dossier_queue (dossier_id) VALUES (\(missing))",
        "INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by) VALUES (\(missing), 1, 'validated', 'x', repeat('0', 64), 'admin:x')",
        "INSERT INTO dossier_status (dossier_id, state) VALUES (\(missing), 'draft')",
    ])
    func aRowNamingNoDossierIsRefused(sql: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(sql)
        #expect(error.sqlState == "23503", "\(error.message)")
    }

    @Test func rightsNamingAnotherStructuresServiceAreRefused() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let error = try connection.refusal(
            """
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
            SELECT d.id, p.id, c.id, d.structure_id, ARRAY[v.id], 'admin:test'
            FROM dossiers d JOIN children c ON c.dossier_id = d.id AND c.position = 0
            JOIN services v ON v.structure_id <> d.structure_id
            JOIN periods p ON p.structure_id = d.structure_id
            WHERE d.external_id = 'VLF-0001' LIMIT 1
            -- Zoé has rights for the period: the opening's widening, which the guard checks as an insert.
            ON CONFLICT (dossier_id, period_id, child_id) DO UPDATE
            SET service_ids = child_period_rights.service_ids || EXCLUDED.service_ids
            """)
        #expect(error.sqlState == "23503", "\(error.message)")
    }

    @Test(arguments: [
        "DELETE FROM dossier_records WHERE external_id = 'VLF-0001'",
        "DELETE FROM dossiers WHERE external_id = 'VLF-0001'",
        "DELETE FROM services WHERE code = 'cantine'",
        "DELETE FROM periods WHERE code = '2026-2027'",
        "TRUNCATE dossier_records CASCADE",
        "TRUNCATE dossier_status",
        "TRUNCATE children",
        "TRUNCATE child_period_rights",
    ])
    func whatOthersNameIsNotDeleted(sql: String) throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        let before = try connection.scalar("SELECT count(*) FROM dossiers", as: Int.self)
        let error = try connection.refusal(sql)
        #expect(error.sqlState == "23503", "\(error.message)")
        #expect(try connection.scalar("SELECT count(*) FROM dossiers", as: Int.self) == before)
    }

    /// A dossier that nothing recorded names goes whole: record, status and parts.
    @Test func aDraftNothingNamesIsDeletedWithItsStatusAndParts() throws {
        let connection = try Fixture.connection(try Fixture.processedExamplesDatabase())
        defer { connection.close() }
        try connection.query(
            """
            INSERT INTO dossiers (structure_id, account_id, external_id, state, confirmed, content)
            SELECT structure_id, account_id, 'DRAFT-1', 'draft', false, '{}' FROM dossiers WHERE external_id = 'VLF-0001'
            """)
        try connection.query(
            "INSERT INTO children (dossier_id, position, first_name, last_name, birth_date) SELECT id, 0, 'A', 'B', '2019-01-01' FROM dossiers WHERE external_id = 'DRAFT-1'"
        )
        let id = try #require(try connection.scalar("SELECT id FROM dossiers WHERE external_id = 'DRAFT-1'", as: Int64.self))
        try connection.query("DELETE FROM dossiers WHERE external_id = 'DRAFT-1'")
        #expect(try connection.scalar("SELECT count(*) FROM dossier_status WHERE dossier_id = $1", [id], as: Int.self) == 0)
        #expect(try connection.scalar("SELECT count(*) FROM children WHERE dossier_id = $1", [id], as: Int.self) == 0)
    }
}
