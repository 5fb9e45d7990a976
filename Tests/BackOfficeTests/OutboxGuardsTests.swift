import BackOffice
import Foundation
import Postgres
import Testing

/// An attacker holding an application's database login, trying to use the outbox as a relay of
/// their own: to a stranger, from another address, or marked sent without being sent.
@Suite("Outbox guards against a stolen login")
struct OutboxGuardsTests {
    /// An email row telling of the dossier `$1`'s last decision, to `$2`, from `$3` (NULL: the
    /// structure's sender_email), as a worker or an administrator can write one by hand.
    /// Since 029 an email is its particulars and a stored template set (which the login may store).
    static let forgedEmail = """
        WITH stored_set AS (INSERT INTO email_template_sets (files) VALUES (convert_to('{}', 'UTF8')) ON CONFLICT DO NOTHING)
        INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, message_id, sender, recipient, particulars,
                                  template_set)
        SELECT d.id, d.structure_id, 'dossier-processed', (SELECT max(id) FROM decisions WHERE dossier_id = d.id),
               'forged-' || md5(random()::text) || '@x', coalesce($3, s.sender_email), $2,
               '{"dossier": "Cliquez ici"}', sha256(convert_to('{}', 'UTF8'))
        FROM dossiers d JOIN structures s ON s.id = d.structure_id
        WHERE d.external_id = $1
        """

    static let accountAddress = "(SELECT a.email FROM dossiers d JOIN accounts a ON a.id = d.account_id WHERE d.external_id = $1)"

    /// Returns the dossier `externalID` as its role may, so that an email of this transaction has
    /// its cause (migration 005), then tries `forgedEmail` with `recipient` and `sender`.
    static func forgeWithItsCause(
        on connection: Connection, _ externalID: String, decidedBy: String, recipient: String, sender: String?
    ) throws -> PostgresError {
        try connection.execute(script: "BEGIN")
        defer { try? connection.execute(script: "ROLLBACK") }
        try connection.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, findings, reason, rules_version, content_sha256, decided_by)
            SELECT d.id, s.version, 'returned', '[]', 'test', 'test', encode(sha256(convert_to(d.content::text, 'UTF8')), 'hex'), $2
            FROM dossier_records d JOIN dossier_status s ON s.dossier_id = d.id WHERE d.external_id = $1
            """, [externalID, decidedBy])
        try connection.query(
            "UPDATE dossier_status SET state = 'returned' WHERE dossier_id = (SELECT id FROM dossier_records WHERE external_id = $1)",
            [externalID])
        return try connection.refusal(forgedEmail, [externalID, recipient, sender])
    }

    @Test(arguments: [
        ("eticket_worker", "VLF-0002", "worker:test:1"),
        ("eticket_admin", "PTL-0001", "admin:Marie Curie"),
    ])
    func aStolenLoginCannotMailAStranger(group: String, externalID: String, actor: String) throws {
        let conninfo = group == "eticket_admin" ? try Fixture.decidedExamples() : try Fixture.submittedExamplesDatabase()
        let role = try AuditTruthTests.login(group, on: conninfo, administering: group == "eticket_admin" ? "saint-amour" : nil)
        let attacker = try Fixture.connection("\(conninfo) user=\(role)", actor: actor)
        defer { attacker.close() }
        let stranger = try Self.forgeWithItsCause(
            on: attacker, externalID, decidedBy: actor, recipient: "spam-target@example.net", sender: nil)
        #expect(stranger.sqlState == "ETK10", "\(stranger)")
        #expect(stranger.message.contains("addressed to someone other than the dossier's account"), "\(stranger.message)")
        #expect(!stranger.message.contains("spam-target"), "an error text never quotes the address")
        // Another address than the structure's, even to the family: a phishing sender.
        let family = try #require(try attacker.scalar("SELECT \(Self.accountAddress)", [externalID], as: String.self))
        let spoofed = try Self.forgeWithItsCause(
            on: attacker, externalID, decidedBy: actor, recipient: family, sender: "mairie@phishing.example")
        #expect(spoofed.sqlState == "ETK10", "\(spoofed)")
        #expect(spoofed.message.contains("sent from another address"), "\(spoofed.message)")
        // Nor may it point a row that exists elsewhere: no role is granted the address columns.
        for column in ["recipient", "sender"] {
            let moved = try attacker.refusal("UPDATE email_outbox SET \(column) = 'spam-target@example.net'")
            #expect(moved.sqlState == "42501", "\(column): \(moved)")
        }
    }

    /// The owner is held to it too (it may switch the trigger off, which is its own decision).
    @Test func evenTheOwnerCannotReaddressAnEmail() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let readdressed = try connection.refusal(
            "UPDATE email_outbox SET recipient = 'spam-target@example.net' WHERE id = (SELECT min(id) FROM email_outbox)")
        #expect(readdressed.sqlState == "ETK10", "\(readdressed)")
        let spoofed = try connection.refusal(
            "UPDATE email_outbox SET sender = 'mairie@phishing.example' WHERE id = (SELECT min(id) FROM email_outbox)")
        #expect(spoofed.sqlState == "ETK10", "\(spoofed)")
        let stranger = try connection.refusal(Self.forgedEmail, ["PTL-0001", "spam-target@example.net", nil])
        #expect(stranger.sqlState == "ETK10", "\(stranger)")
        // What the worker wrote is addressed the way the guard wants: it changes nothing for them.
        #expect(
            try connection.scalar(
                """
                SELECT count(*) FILTER (WHERE o.recipient = a.email AND o.sender = s.sender_email) = count(*) AND count(*) > 0
                FROM email_outbox o JOIN dossier_records d ON d.id = o.dossier_id
                JOIN accounts a ON a.id = d.account_id JOIN structures s ON s.id = o.structure_id
                """, as: Bool.self) == true)
    }

    /// A thief of the batch run's login cannot tell the database that a relay took a message by
    /// any other move than the sender's own, and every move is recorded with its login.
    @Test func theBatchLoginMarksDeliveryOnlyAsTheSenderDoesAndIsRecorded() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try AuditTruthTests.login("eticket_batch", on: conninfo)
        let batch = try Fixture.connection("\(conninfo) user=\(role)", actor: "sender:test:1")
        defer { batch.close() }
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        let ids = try owner.query("SELECT id FROM email_outbox ORDER BY id").map { try $0.decode(Int64.self, "id") }
        try #require(ids.count >= 3)
        let (first, second, third) = (ids[0], ids[1], ids[2])
        func refused(_ set: String, _ id: Int64, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let error = try batch.refusal("UPDATE email_outbox SET \(set) WHERE id = \(id)", sourceLocation: sourceLocation)
            #expect(error.sqlState == "ETK09", "\(set): \(error)", sourceLocation: sourceLocation)
            return error.message
        }
        let now = "last_attempt_at = clock_timestamp(), delivered_at = clock_timestamp()"
        // Sent without an attempt counted, with an attempt of another time, or without the relay's yes.
        #expect(try refused("delivery = 'sent', delivery_reply = '250 ok', \(now)", first).contains("one more attempt"))
        _ = try refused(
            "delivery = 'sent', delivery_reply = '250 ok', delivery_attempts = 1, last_attempt_at = '2026-01-01', delivered_at = '2026-01-01'",
            first)
        #expect(
            try refused("delivery = 'sent', delivery_reply = 'trust me', delivery_attempts = 1, \(now)", first).contains(
                "positive reply"))
        _ = try refused("delivery = 'sent', delivery_reply = '550 5.1.1 no', delivery_attempts = 1, \(now)", first)
        // Skipped (never to be sent), or its attempts wiped, or its next attempt pushed away: no.
        _ = try refused("delivery = 'skipped', delivery_reply = 'x'", first)
        _ = try refused("delivery_attempts = 7, last_attempt_at = clock_timestamp()", first)
        // The sender's moves pass: a deferral, then a failure after one more attempt.
        let deferral =
            "delivery = 'deferred', delivery_reply = '451 4.3.0 later', delivery_attempts = delivery_attempts + 1, last_attempt_at = clock_timestamp()"
        try batch.execute(
            script: "UPDATE email_outbox SET \(deferral), next_attempt_at = now() + interval '1 hour' WHERE id = \(second)")
        _ = try refused("next_attempt_at = now() + interval '10 years'", second)
        try batch.execute(
            script:
                "UPDATE email_outbox SET delivery = 'failed', delivery_reply = '550 5.1.1 unknown', delivery_attempts = delivery_attempts + 1, last_attempt_at = clock_timestamp(), next_attempt_at = NULL WHERE id = \(second)"
        )
        // A failed email is not marked sent: it goes back to pending first, its attempts kept.
        #expect(
            try refused("delivery = 'sent', delivery_reply = '250 ok', delivery_attempts = 3, \(now)", second).contains(
                "only a pending or deferred"))
        _ = try refused("delivery = 'pending', delivery_attempts = 0, last_attempt_at = NULL", second)
        try batch.execute(script: "UPDATE email_outbox SET delivery = 'pending' WHERE id = \(second)")
        // What the sender does when the relay says 250.
        try batch.execute(
            script:
                "UPDATE email_outbox SET delivery = 'sent', delivery_reply = '250 2.0.0 Ok: queued as 4F2A', delivery_attempts = delivery_attempts + 1, \(now), next_attempt_at = NULL WHERE id = \(third)"
        )

        // Each move is in the log with the login that made it; an export is not a delivery move.
        try batch.execute(script: "UPDATE email_outbox SET exported_at = now() WHERE id = \(third)")
        let log = try owner.query(
            "SELECT email_id, from_delivery::text || '>' || to_delivery::text AS move, attempt, reply_code, login_role::text AS login, actor FROM email_delivery_log ORDER BY id"
        )
        let moves = try log.map {
            "\(try $0.decode(Int64.self, "email_id")) \(try $0.decode(String.self, "move")) \(try $0.decode(Int.self, "attempt")) \(try $0.decode(String.self, "reply_code"))"
        }
        #expect(
            moves == [
                "\(second) pending>deferred 1 451", "\(second) deferred>failed 2 550", "\(second) failed>pending 2 550",
                "\(third) pending>sent 1 250",
            ])
        #expect(
            try log.allSatisfy {
                try $0.decode(String.self, "login") == role && $0.decode(String.self, "actor") == "sender:test:1"
            })
        // No application role reads or writes the log; not even the owner rewrites it.
        #expect(try batch.refusal("SELECT count(*) FROM email_delivery_log").sqlState == "42501")
        #expect(
            try batch.refusal(
                "INSERT INTO email_delivery_log (email_id, structure_id, from_delivery, to_delivery, attempt, login_role, occurred_at) VALUES (1, 1, 'pending', 'sent', 1, 'x', now())"
            ).sqlState == "42501")
        #expect(try owner.refusal("UPDATE email_delivery_log SET login_role = 'someone_else'").sqlState == "ETK03")
        #expect(try owner.refusal("DELETE FROM email_delivery_log").sqlState == "ETK03")
    }
}
