import BackOffice
import Foundation
import Postgres
import Testing

/// The rights and outbox guards read each dossier, account, period, set of services and template
/// set once per group of rows (migration 034). One bad row in a group of good ones, in the same
/// statement, is still refused, with the same error as alone.
@Suite("Guards checked once per group still see one bad row")
struct GuardsPerGroupTests {
    /// Two dossier-processed emails of the same dossier in one statement, one for each of its last
    /// two decisions: the first to the family, the second to `$1`, naming the template set of hex
    /// digits `$2` (NULL: the stored one).
    static let twoEmailsOfOneDossier = """
        WITH stored_set AS (INSERT INTO email_template_sets (files) VALUES (convert_to('{}', 'UTF8')) ON CONFLICT DO NOTHING)
        INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, message_id, sender, recipient, particulars,
                                  template_set)
        SELECT d.id, d.structure_id, 'dossier-processed', x.id, 'group-' || md5(random()::text) || '@x', s.sender_email,
               CASE WHEN x.n = 1 THEN a.email ELSE $1 END, '{"dossier": "PTL-0001"}',
               CASE WHEN x.n = 1 THEN sha256(convert_to('{}', 'UTF8'))
                    ELSE coalesce(decode($2::text, 'hex'), sha256(convert_to('{}', 'UTF8'))) END
        FROM dossiers d JOIN structures s ON s.id = d.structure_id JOIN accounts a ON a.id = d.account_id
        CROSS JOIN LATERAL (SELECT id, row_number() OVER (ORDER BY id) AS n
                            FROM (SELECT id FROM decisions WHERE dossier_id = d.id ORDER BY id DESC LIMIT 2) last) x
        WHERE d.external_id = 'PTL-0001'
        """

    @Test func oneMisaddressedEmailAmongTheFamilysIsRefused() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let family = try #require(
            try connection.scalar(
                "SELECT a.email FROM dossiers d JOIN accounts a ON a.id = d.account_id WHERE d.external_id = 'PTL-0001'",
                as: String.self))
        try connection.execute(script: "BEGIN")
        defer { try? connection.execute(script: "ROLLBACK") }
        // PTL-0001 awaits review (a decision no email tells of); an administrator returns it.
        try connection.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, findings, reason, rules_version, content_sha256, decided_by)
            SELECT d.id, s.version, 'returned', '[]', 'test', 'test', encode(sha256(convert_to(d.content::text, 'UTF8')), 'hex'),
                   'admin:test'
            FROM dossier_records d JOIN dossier_status s ON s.dossier_id = d.id WHERE d.external_id = 'PTL-0001'
            """)
        try connection.query(
            "UPDATE dossier_status SET state = 'returned' WHERE dossier_id = (SELECT id FROM dossiers WHERE external_id = 'PTL-0001')"
        )
        try connection.execute(script: "SAVEPOINT emails")
        let stranger = try connection.refusal(Self.twoEmailsOfOneDossier, ["spam-target@example.net", nil])
        #expect(stranger.sqlState == "ETK10", "\(stranger)")
        #expect(stranger.message.contains("addressed to someone other than the dossier's account"), "\(stranger.message)")
        #expect(!stranger.message.contains("spam-target"), "an error text never quotes the address")
        // The same two, to the family, the second naming a template set nobody stored.
        try connection.execute(script: "ROLLBACK TO emails")
        let unstored = try connection.refusal(Self.twoEmailsOfOneDossier, [family, String(repeating: "07", count: 32)])
        #expect(unstored.sqlState == "23503", "\(unstored)")
        #expect(unstored.message.contains("names a template set that is not stored"), "\(unstored.message)")
        // And both right: the guard lets them through.
        try connection.execute(script: "ROLLBACK TO emails")
        try connection.query(Self.twoEmailsOfOneDossier, [family, nil])
        #expect(
            try connection.scalar("SELECT count(*) FROM email_outbox WHERE message_id LIKE 'group-%'", as: Int.self) == 2)
    }

    @Test func oneForeignServiceAmongARightsStatementIsRefused() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let rights = try connection.scalar(
            "SELECT count(*) || ' rows of ' || count(DISTINCT dossier_id) || ' dossiers' FROM child_period_rights",
            as: String.self)
        let counts = try #require(rights?.split(separator: " ").compactMap { Int($0) })
        try #require(counts.count == 2 && counts[0] >= 2, "\(rights ?? "")")
        // Every row widened by one of its own structure's services (when it lacks one), but, when
        // `$1`, one row (the first child's of the first dossier) by a service of another structure.
        let widening = """
            UPDATE child_period_rights r
            SET service_ids = array_cat(r.service_ids, ARRAY(
                SELECT v.id FROM services v
                WHERE CASE WHEN $1 AND (r.dossier_id, r.child_id) = (SELECT dossier_id, child_id FROM child_period_rights
                                                                   ORDER BY dossier_id, child_id LIMIT 1)
                           THEN v.structure_id <> r.structure_id ELSE v.structure_id = r.structure_id END
                  AND v.id <> ALL (r.service_ids)
                ORDER BY v.id LIMIT 1))
            """
        let error = try connection.refusal(widening, [true])
        #expect(error.sqlState == "23503", "\(error)")
        #expect(error.message.contains("name another structure, or a service or period not of structure"), "\(error.message)")
        try connection.execute(script: "BEGIN")
        defer { try? connection.execute(script: "ROLLBACK") }
        try connection.query(widening, [false])
    }
}
