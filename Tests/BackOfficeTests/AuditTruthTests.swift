import BackOffice
import Foundation
import Postgres
import Testing

/// Issue 16, class 4, from the attacker's side: application roles trying to lie in, or around,
/// the audit trail (migration 013).
@Suite("The audit trail tells the truth about who")
struct AuditTruthTests {
    /// A new login role, member of `group`; for eticket_admin, mapped to `structure` too.
    static func login(_ group: String, on conninfo: String, administering structure: String? = nil) throws -> String {
        let role = "\(group.replacingOccurrences(of: "eticket_", with: ""))_\(UUID().uuidString.prefix(8).lowercased())"
        let owner = try Connection(conninfo)
        defer { owner.close() }
        try owner.execute(script: "CREATE ROLE \(role) LOGIN IN ROLE \(group)")
        if let structure {
            let administration = try Fixture.administration(conninfo)
            defer { administration.close() }
            try administration.grantAdmin(role: role, structure: structure)
        }
        return role
    }

    static let dossierOf = "(SELECT id FROM dossiers WHERE external_id = $1)"

    @Test(arguments: [
        ("eticket_worker", "admin:Marie Curie", "VLF-0001", "awaiting_review"),
        ("eticket_admin", "worker:prod-host:4242", "PTL-0001", "validated"),
        ("eticket_intake", "admin:Marie Curie", "VLF-0001", "submitted"),
    ])
    func aRoleCannotDeclareItselfAsAnother(group: String, actor: String, externalID: String, to: String) throws {
        let conninfo = group == "eticket_admin" ? try Fixture.decidedExamples() : try Fixture.submittedExamplesDatabase()
        let role = try Self.login(group, on: conninfo, administering: group == "eticket_admin" ? "saint-amour" : nil)
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: actor)
        defer { connection.close() }
        guard group != "eticket_intake" else {
            // The intake submits: a dossier of its own, under an administrator's name.
            let error = try connection.refusal(
                """
                INSERT INTO dossiers (structure_id, account_id, external_id, state, confirmed, submitted_at, content)
                SELECT structure_id, account_id, 'NEW-1', 'submitted', true, now(), '{}' FROM dossiers
                WHERE external_id = $1
                """, [externalID])
            #expect(error.sqlState == "ETK05")
            #expect(error.message == "role \(role) may not declare itself as \(actor)")
            return
        }
        try connection.execute(script: "BEGIN")
        try connection.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, version, $2::decision_outcome, 'test', repeat('0', 64), $3 FROM dossiers WHERE external_id = $1
            """, [externalID, to, group == "eticket_worker" ? "worker:test:1" : "admin:Marie Curie"])
        let error = try connection.refusal(
            "UPDATE dossiers SET state = $2::dossier_state WHERE external_id = $1", [externalID, to])
        try connection.execute(script: "ROLLBACK")
        #expect(error.sqlState == "ETK05")
        #expect(error.message == "role \(role) may not declare itself as \(actor)")
    }

    @Test func theLoginRoleIsRecordedWhateverTheSessionSets() throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try Self.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:someone-else:1")
        defer { worker.close() }
        // Every setting a session can make, made: the event still names the login.
        try worker.execute(script: "SET eticket.login_role = 'someone'; SET application_name = 'admin'")
        try worker.transaction { connection in
            try connection.query(
                """
                INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
                SELECT id, version, 'awaiting_review', 'test', repeat('0', 64), 'worker:forger:1' FROM dossiers
                WHERE external_id = 'VLF-0001'
                """)
            try connection.query("UPDATE dossiers SET state = 'awaiting_review' WHERE external_id = 'VLF-0001'")
        }
        let event = try #require(
            try worker.query(
                "SELECT actor, login_role FROM dossier_events WHERE dossier_id = \(Self.dossierOf) ORDER BY id DESC LIMIT 1",
                ["VLF-0001"]
            ).first)
        #expect(try event.decode(String.self, "actor") == "worker:someone-else:1") // what it declared
        #expect(try event.decode(String.self, "login_role") == role) // who it is
        let decision = try worker.scalar(
            "SELECT login_role FROM decisions WHERE dossier_id = \(Self.dossierOf) ORDER BY id DESC LIMIT 1", ["VLF-0001"],
            as: String.self)
        #expect(decision == role)
        // The role is inside the hash: changing it behind the product's back breaks the chain.
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        #expect(try administration.verifyAudit().breaks.isEmpty)
        let owner = try Connection(conninfo)
        defer { owner.close() }
        try owner.execute(
            script: """
                ALTER TABLE dossier_events DISABLE TRIGGER dossier_events_append_only;
                UPDATE dossier_events SET login_role = 'worker_someone_else' WHERE login_role = '\(role)';
                ALTER TABLE dossier_events ENABLE TRIGGER dossier_events_append_only;
                """)
        #expect(try administration.verifyAudit().breaks.map(\.dossier) == ["VLF-0001"])
    }

    @Test(arguments: ["eticket_admin", "eticket_worker", "eticket_intake", "eticket_batch"])
    func noApplicationRoleWritesEvents(group: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login(group, on: conninfo, administering: group == "eticket_admin" ? "villefranche" : nil)
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:x")
        defer { connection.close() }
        // A backdated, invented event, hash and link left for the trigger to compute.
        let error = try connection.refusal(
            """
            INSERT INTO dossier_events (dossier_id, dossier_version, from_state, to_state, actor, occurred_at)
            SELECT id, version, 'submitted', 'validated', 'admin:Marie Curie', now() - interval '1 year'
            FROM dossiers WHERE external_id = 'VLF-0002'
            """)
        #expect(error.sqlState == "42501")
    }

    @Test func evenTheOwnerCannotInsertAnEventByHand() throws {
        let owner = try Fixture.connection(try Fixture.decidedExamples())
        defer { owner.close() }
        let error = try owner.refusal(
            """
            INSERT INTO dossier_events (dossier_id, dossier_version, from_state, to_state, actor)
            SELECT id, version, 'returned', 'submitted', 'import' FROM dossiers WHERE external_id = 'VLF-0002'
            """)
        #expect(error.sqlState == "ETK03")
    }

    @Test func aWorkerCannotDecideADossierAwaitingReview() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        // Signing a decision as an administrator is refused...
        let forged = try worker.refusal(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, version, 'validated', 'test', repeat('0', 64), 'admin:Marie Curie' FROM dossiers
            WHERE external_id = 'PTL-0001'
            """)
        #expect(forged.sqlState == "42501")
        // ...and so is the move itself, whatever the actor says.
        for to in ["validated", "returned", "rejected"] {
            let error = try worker.refusal("UPDATE dossiers SET state = $1::dossier_state WHERE external_id = 'PTL-0001'", [to])
            #expect(error.sqlState == "ETK06", "\(to)")
            #expect(error.message.contains("administrator's decision, not role \(role)'s"), "\(error.message)")
        }
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(
            try owner.scalar("SELECT state::text FROM dossiers WHERE external_id = 'PTL-0001'", as: String.self)
                == "awaiting_review")
    }

    @Test func aWorkerCannotValidateWhereTheStructureReviewsByHand() throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try Self.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        try worker.execute(script: "BEGIN")
        try worker.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, version, 'validated', 'test', repeat('0', 64), 'worker:test:1' FROM dossiers
            WHERE external_id = 'PTL-0001'
            """)
        let error = try worker.refusal("UPDATE dossiers SET state = 'validated' WHERE external_id = 'PTL-0001'")
        try worker.execute(script: "ROLLBACK")
        #expect(error.sqlState == "ETK06")
    }

    @Test(arguments: [("eticket_worker", "VLF-0001", "validated"), ("eticket_admin", "PTL-0001", "validated")])
    func aDecidedStateNeedsADecisionOfTheSameTransaction(group: String, externalID: String, to: String) throws {
        let conninfo = group == "eticket_worker" ? try Fixture.submittedExamplesDatabase() : try Fixture.decidedExamples()
        let role = try Self.login(group, on: conninfo, administering: group == "eticket_admin" ? "saint-amour" : nil)
        let actor = group == "eticket_worker" ? "worker:test:1" : "admin:\(role)"
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: actor)
        defer { connection.close() }
        let error = try connection.refusal(
            "UPDATE dossiers SET state = $2::dossier_state WHERE external_id = $1", [externalID, to])
        #expect(error.sqlState == "ETK07")
        #expect(error.message == "dossier \(externalID) cannot become \(to) without a decision recorded in the same transaction")
    }

    @Test(arguments: [
        "content = content || '{\"notes\": \"rewritten\"}'",
        "external_id = 'VLF-9999'",
        "version = version + 1",
        "submitted_at = submitted_at - interval '1 day'",
        "purged_at = now()",
        "notes = 'edited by hand'",
        "structure_id = structure_id + 0, created_at = created_at - interval '1 day'",
    ])
    func anAdministratorCannotRewriteAReturnedDossier(assignment: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_admin", on: conninfo, administering: "villefranche")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        defer { admin.close() }
        let error = try admin.refusal("UPDATE dossiers SET \(assignment) WHERE external_id = 'VLF-0002'")
        #expect(error.sqlState == "ETK01")
        #expect(error.message == "dossier VLF-0002 is returned: only its submission may change it, and never its identity")
    }

    @Test(arguments: [
        ("VLF-0002", "version", "validated"), // version 1 is current, but returned → validated is no move
        ("VLF-0001", "version", "validated"), // planning_open → validated neither
        ("VLF-0002", "version + 1", "awaiting_review"), // a version the family never sent
    ])
    func aDecisionMustFitItsDossier(externalID: String, version: String, outcome: String) throws {
        let conninfo = try Fixture.decidedExamples()
        // An administrator: a worker's second verdict on a version is refused by its unique index already.
        let role = try Self.login("eticket_admin", on: conninfo, administering: "villefranche")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        defer { admin.close() }
        let error = try admin.refusal(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, reason, rules_version, content_sha256, decided_by)
            SELECT id, \(version), $2::decision_outcome, 'x', 'test', repeat('0', 64), 'admin:Marie Curie' FROM dossiers
            WHERE external_id = $1
            """, [externalID, outcome])
        #expect(error.sqlState == "ETK07", "\(error.message)")
    }

    @Test(arguments: [
        "UPDATE guardians SET email = 'attacker@example.org' WHERE dossier_id = \(dossierOf)",
        "DELETE FROM children WHERE dossier_id = \(dossierOf)",
        "INSERT INTO documents (dossier_id, position, kind, filename, media_type, size, sha256) SELECT \(dossierOf), 9, 'x', 'x.pdf', 'application/pdf', 1, repeat('0', 64)",
    ])
    func anAdministratorCannotEditAReturnedDossiersPartsByHand(sql: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_admin", on: conninfo, administering: "villefranche")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        defer { admin.close() }
        let error = try admin.refusal(sql, ["VLF-0002"])
        #expect(error.sqlState == "ETK01")
        #expect(error.message.hasPrefix("dossier VLF-0002 is returned and read-only"))
    }

    /// What the family may do to a returned dossier, the intake does: send it again, parts and all.
    @Test func theIntakeSendsAReturnedDossierAgain() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_intake", on: conninfo)
        let intake = try Administration(conninfo: "\(conninfo) user=\(role)", actor: "import", logger: Fixture.logger)
        defer { intake.close() }
        let line = try #require(try Fixture.exampleLines()["VLF-0002"])
        let report = try intake.importDossiers(file: try Fixture.file([line]))
        #expect(report.resubmitted == 1 && report.rejected.isEmpty, "\(report.rejected.map(\.reasons))")
        let owner = try Connection(conninfo)
        defer { owner.close() }
        let event = try #require(
            try owner.query(
                "SELECT to_state::text AS state, dossier_version, login_role FROM dossier_events WHERE dossier_id = \(Self.dossierOf) ORDER BY id DESC LIMIT 1",
                ["VLF-0002"]
            ).first)
        #expect(try event.decode(String.self, "state") == "submitted")
        #expect(try event.decode(Int.self, "dossier_version") == 2)
        #expect(try event.decode(String.self, "login_role") == role)
        #expect(
            try owner.scalar("SELECT count(*) FROM children WHERE dossier_id = \(Self.dossierOf)", ["VLF-0002"], as: Int.self)
                == 1)
    }

    @Test func aWorkerCannotWriteAnEmailForADossierItDidNotDecide() throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try Self.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        let email = """
            INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, period_id, message_id, sender,
                                      recipient, particulars, template_set)
            SELECT d.id, d.structure_id, $2::email_kind,
                   CASE WHEN $2 = 'dossier-processed' THEN (SELECT max(id) FROM decisions WHERE dossier_id = d.id) END,
                   CASE WHEN $2 = 'planning-open' THEN (SELECT min(id) FROM periods WHERE structure_id = d.structure_id) END,
                   'forged-' || $2 || '@x', 'a@b', 'victim@example.org', '{"dossier": "Cliquez ici"}', sha256('')
            FROM dossiers d WHERE d.external_id = $1
            """
        // A decision written, but not carried out: no event, so no email.
        try worker.execute(script: "BEGIN")
        try worker.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, version, 'validated', 'test', repeat('0', 64), 'worker:test:1' FROM dossiers
            WHERE external_id = 'VLF-0001'
            """)
        let undecided = try worker.refusal(email, ["VLF-0001", "dossier-processed"])
        try worker.execute(script: "ROLLBACK")
        #expect(undecided.sqlState == "ETK08")
        // Rights announced that no one opened.
        let unopened = try worker.refusal(email, ["VLF-0002", "planning-open"])
        #expect(unopened.sqlState == "ETK08")
        #expect(unopened.message.contains("needs its cause (the rights opened) in the same transaction"))
        // Nor may it write one already marked exported, which the family would never get.
        let exported = try worker.refusal(
            """
            INSERT INTO email_outbox (dossier_id, structure_id, kind, period_id, message_id, sender, recipient, subject,
                                      message, exported_at)
            SELECT d.id, d.structure_id, 'planning-open', p.id, 'exported@x', 'a@b', 'c@d', 's', '\\x00', now()
            FROM dossiers d JOIN periods p ON p.structure_id = d.structure_id WHERE d.external_id = 'VLF-0002' LIMIT 1
            """)
        #expect(exported.sqlState == "42501")
    }

    @Test func theStructureHelpersAreNotPublic() throws {
        let conninfo = try Fixture.decidedExamples()
        let villefranche = try Self.login("eticket_admin", on: conninfo, administering: "villefranche")
        let saintAmour = try Self.login("eticket_admin", on: conninfo, administering: "saint-amour")
        let owner = try Connection(conninfo)
        defer { owner.close() }
        try owner.execute(script: "CREATE ROLE nobody_\(villefranche) LOGIN")
        let nobody = try Connection("\(conninfo) user=nobody_\(villefranche)")
        defer { nobody.close() }
        for call in ["administers(1, 'x')", "administers_dossier(1, 'x')"] {
            #expect(try nobody.refusal("SELECT \(call)").sqlState == "42501", "\(call)")
        }
        // One structure's administrator asking on behalf of another's counts nothing.
        let admin = try Connection("\(conninfo) user=\(villefranche)")
        defer { admin.close() }
        let counted = try admin.scalar(
            "SELECT count(*) FROM generate_series(1, 1000) AS g(id) WHERE administers_dossier(g.id, $1)", [saintAmour],
            as: Int.self)
        #expect(counted == 0)
        #expect(
            try admin.scalar(
                "SELECT count(*) FROM generate_series(1, 1000) AS g(id) WHERE administers_dossier(g.id, current_user)",
                as: Int.self) == 3)
    }
}

// MARK: - What the review of 013 and 014 still found (migration 016)

extension AuditTruthTests {
    /// The id of an account of `structure` other than the account of `externalID`, as the owner sees it
    /// (an attacker guesses ids).
    static func anotherAccount(of structure: String, than externalID: String, on conninfo: String) throws -> Int64 {
        let owner = try Connection(conninfo)
        defer { owner.close() }
        return try #require(
            try owner.scalar(
                """
                SELECT min(a.id) FROM accounts a JOIN structures s ON s.id = a.structure_id
                WHERE s.code = $1 AND a.id <> (SELECT account_id FROM dossiers WHERE external_id = $2)
                """, [structure, externalID], as: Int64.self))
    }

    /// The worker would write this dossier's emails to the other structure's family address, which
    /// the dossier's administrator reads.
    @Test func anAdministratorCannotFileADossierUnderAnotherStructuresAccount() throws {
        let conninfo = try Fixture.decidedExamples()
        let foreign = try Self.anotherAccount(of: "saint-amour", than: "VLF-0001", on: conninfo)
        let role = try Self.login("eticket_admin", on: conninfo, administering: "villefranche")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { admin.close() }
        let error = try admin.refusal(
            """
            INSERT INTO dossiers (structure_id, account_id, external_id, state, locale, confirmed, submitted_at, content,
                                  terms_accepted_at, house_rules_accepted_at)
            SELECT structure_id, $1, 'LEAK-1', 'submitted', locale, confirmed, now(), content, terms_accepted_at,
                   house_rules_accepted_at
            FROM dossiers WHERE external_id = 'VLF-0001'
            """, [foreign])
        #expect(error.sqlState == "23503", "\(error.message)")
    }

    /// A returned dossier sent again keeps the account that sent it, whoever sends it.
    @Test(arguments: ["eticket_admin", "eticket_intake"])
    func aResubmissionCannotSwitchTheAccount(group: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let neighbour = try Self.anotherAccount(of: "villefranche", than: "VLF-0002", on: conninfo)
        let role = try Self.login(group, on: conninfo, administering: group == "eticket_admin" ? "villefranche" : nil)
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { connection.close() }
        let error = try connection.refusal(
            "UPDATE dossiers SET state = 'submitted', version = version + 1, account_id = $1 WHERE external_id = 'VLF-0002'",
            [neighbour])
        #expect(error.sqlState == "42501", "\(error.message)")
    }

    @Test func theImportRefusesADossierSentAgainByAnotherAccount() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_intake", on: conninfo)
        let intake = try Administration(conninfo: "\(conninfo) user=\(role)", actor: "import", logger: Fixture.logger)
        defer { intake.close() }
        let line = try #require(try Fixture.exampleLines()["VLF-0002"])
            .replacingOccurrences(of: "k.nguyen@example.org", with: "attacker@example.org")
        let report = try intake.importDossiers(file: try Fixture.file([line]))
        #expect(report.resubmitted == 0)
        let rejected = try #require(report.rejected.first)
        #expect(
            rejected.reasons == [
                "$.account.email: dossier VLF-0002 was sent by another account; it can be sent again only by the account that sent it"
            ])
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(
            try owner.scalar(
                "SELECT a.email FROM dossiers d JOIN accounts a ON a.id = d.account_id WHERE d.external_id = 'VLF-0002'",
                as: String.self) == "k.nguyen@example.org")
    }

    /// An administrator inserts what the intake inserts: no purge mark, version or creation time of its choosing.
    @Test(arguments: [("purged_at", "now()"), ("version", "42"), ("created_at", "'2000-01-01T00:00:00Z'")])
    func anAdministratorCannotInsertADossiersBookkeeping(column: String, value: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_admin", on: conninfo, administering: "villefranche")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { admin.close() }
        let error = try admin.refusal(
            """
            INSERT INTO dossiers (structure_id, account_id, external_id, state, confirmed, submitted_at, content, \(column))
            SELECT structure_id, account_id, 'FORGED-1', 'submitted', confirmed, now(), content, \(value)
            FROM dossiers WHERE external_id = 'VLF-0001'
            """)
        #expect(error.sqlState == "42501", "\(error.message)")
    }

    /// PTL-0001, awaiting review in the decided examples, validated by the owner (an administrator's
    /// decision would open its rights at once).
    static func validatedPTL0001() throws -> String {
        let conninfo = try Fixture.decidedExamples()
        let owner = try Fixture.connection(conninfo, actor: "admin:owner")
        defer { owner.close() }
        try owner.query("UPDATE dossiers SET state = 'validated' WHERE external_id = 'PTL-0001'")
        return conninfo
    }

    @Test func theIntakeCannotOpenAPlanning() throws {
        let conninfo = try Self.validatedPTL0001()
        let role = try Self.login("eticket_intake", on: conninfo)
        let intake = try Fixture.connection("\(conninfo) user=\(role)", actor: "import")
        defer { intake.close() }
        let error = try intake.refusal("UPDATE dossiers SET state = 'planning_open' WHERE external_id = 'PTL-0001'")
        #expect(error.sqlState == "ETK06")
        #expect(
            error.message
                == "dossier PTL-0001: opening its planning is the worker's or an administrator's move, not role \(role)'s")
    }

    @Test(arguments: ["eticket_worker", "eticket_admin"])
    func aPlanningOpensOnlyWithRightsOpenedInTheSameTransaction(group: String) throws {
        let conninfo = try Self.validatedPTL0001()
        let role = try Self.login(group, on: conninfo, administering: group == "eticket_admin" ? "saint-amour" : nil)
        let actor = group == "eticket_worker" ? "worker:test:1" : "admin:\(role)"
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: actor)
        defer { connection.close() }
        let error = try connection.refusal("UPDATE dossiers SET state = 'planning_open' WHERE external_id = 'PTL-0001'")
        #expect(error.sqlState == "ETK07")
        #expect(error.message == "dossier PTL-0001 cannot become planning_open without rights opened in the same transaction")
    }

    /// The worker's one move from submitted to planning_open (022) needs everything the two moves
    /// it replaces needed: a validated decision, automatic review and rights, in its transaction.
    @Test func aWorkerOpensASubmittedDossiersPlanningOnlyWithItsValidationAndRights() throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try Self.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        let move =
            "UPDATE dossier_status SET state = 'planning_open' WHERE dossier_id = (SELECT id FROM dossiers WHERE external_id = $1)"
        let decide = """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, version, 'validated', 'test', repeat('0', 64), 'worker:test:1' FROM dossiers WHERE external_id = $1
            """
        let undecided = try worker.refusal(move, ["VLF-0001"])
        #expect(undecided.sqlState == "ETK02")
        #expect(undecided.message == "dossier VLF-0001 cannot move from submitted to planning_open")
        try worker.execute(script: "BEGIN")
        try worker.query(decide, ["VLF-0001"])
        let withoutRights = try worker.refusal(move, ["VLF-0001"])
        try worker.execute(script: "ROLLBACK")
        #expect(withoutRights.sqlState == "ETK07")
        #expect(
            withoutRights.message == "dossier VLF-0001 cannot become planning_open without rights opened in the same transaction")
        // Saint-Amour reviews by hand: the worker never validates there, in one move or two.
        try worker.execute(script: "BEGIN")
        try worker.query(decide, ["PTL-0001"])
        let manual = try worker.refusal(move, ["PTL-0001"])
        try worker.execute(script: "ROLLBACK")
        #expect(manual.sqlState == "ETK06")
        #expect(
            manual.message
                == "dossier PTL-0001: moving it from submitted to planning_open is an administrator's decision, not role \(role)'s"
        )
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(try owner.scalar("SELECT count(*) FROM dossiers WHERE state <> 'submitted'", as: Int.self) == 0)
        #expect(try owner.scalar("SELECT count(*) FROM decisions", as: Int.self) == 0)
    }

    /// A verdict that no state change carries out would be shown by `dossier show` as if it had been given.
    @Test func aDecisionMustBeCarriedOutInItsTransaction() throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login("eticket_admin", on: conninfo, administering: "saint-amour")
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        defer { admin.close() }
        let error = try admin.refusal(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, reason, rules_version, content_sha256, decided_by)
            SELECT id, version, 'rejected', 'stray', 'test', repeat('0', 64), 'admin:Marie Curie' FROM dossiers
            WHERE external_id = 'PTL-0001'
            """)
        #expect(error.sqlState == "ETK07")
        #expect(error.message.hasPrefix("a decision rejected on dossier "))
        #expect(error.message.hasSuffix(" was carried out by no state change of its transaction"))
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(try owner.scalar("SELECT count(*) FROM decisions WHERE reason = 'stray'", as: Int.self) == 0)
    }

    /// The decisions waiting to be carried out (021) are the definer's: a worker can neither read
    /// nor clear them, and a stray decision of its own is refused at its commit.
    @Test func aWorkerCannotDodgeTheCarriedOutCheck() throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = try Self.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        #expect(try worker.refusal("DELETE FROM decisions_to_carry_out").sqlState == "42501")
        #expect(try worker.refusal("SELECT * FROM decisions_to_carry_out").sqlState == "42501")
        try worker.execute(script: "BEGIN")
        try worker.query(
            """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, version, 'validated', 'test', repeat('0', 64), 'worker:test:1' FROM dossiers
            WHERE external_id = 'VLF-0001'
            """)
        let error = try worker.refusal("COMMIT")
        #expect(error.sqlState == "ETK07")
        #expect(error.message.hasSuffix(" was carried out by no state change of its transaction"))
        let owner = try Connection(conninfo)
        defer { owner.close() }
        #expect(try owner.scalar("SELECT count(*) FROM decisions", as: Int.self) == 0)
        #expect(try owner.scalar("SELECT count(*) FROM decisions_to_carry_out", as: Int.self) == 0)
    }

    @Test(arguments: [
        ("eticket_worker", "worker:test:1", "admin:Marie Curie"), ("eticket_admin", "admin:x", "worker:prod-host:4242"),
    ])
    func rightsCannotBeOpenedUnderAnotherRolesName(group: String, actor: String, openedBy: String) throws {
        let conninfo = try Fixture.decidedExamples()
        let role = try Self.login(group, on: conninfo, administering: group == "eticket_admin" ? "villefranche" : nil)
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: actor)
        defer { connection.close() }
        // Every service for Zoé, who asked for two: as the opening adds a service (030).
        let error = try connection.refusal(
            """
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
            SELECT d.id, p.id, c.id, d.structure_id, ARRAY(SELECT v.id FROM services v WHERE v.structure_id = d.structure_id),
                   $1
            FROM dossiers d JOIN children c ON c.dossier_id = d.id AND c.position = 0
            JOIN periods p ON p.structure_id = d.structure_id
            WHERE d.external_id = 'VLF-0001'
            ON CONFLICT (dossier_id, period_id, child_id) DO UPDATE SET service_ids = EXCLUDED.service_ids
            """, [openedBy])
        #expect(error.sqlState == "42501", "\(error.message)")
        #expect(error.message.contains("row-level security"))
    }
}
