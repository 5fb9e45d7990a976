import BackOffice
import Foundation
import Postgres
import Testing

@Suite("Isolation between structures (roles and row-level security)")
struct IsolationTests {
    /// The examples imported and decided, and a fresh login role administering villefranche.
    private func villefrancheAdmin() throws -> (conninfo: String, role: String) {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let role = "admin_\(UUID().uuidString.prefix(8).lowercased())"
        let owner = try Fixture.connection(conninfo)
        try owner.execute(script: "CREATE ROLE \(role) LOGIN")
        try administration.grantAdmin(role: role, structure: "villefranche")
        return (conninfo, role)
    }

    @Test func aStructuresAdministratorSeesOnlyItsFamilies() throws {
        let (conninfo, role) = try villefrancheAdmin()
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        #expect(try admin.query("SELECT code FROM structures").map { try $0.decode(String.self, "code") } == ["villefranche"])
        let dossiers = try admin.query("SELECT external_id FROM dossiers ORDER BY 1").map {
            try $0.decode(String.self, "external_id")
        }
        #expect(dossiers == ["VLF-0001", "VLF-0002", "VLF-0003"])
        for table in [
            "accounts", "children", "guardians", "trusted_persons", "documents", "decisions", "dossier_events", "email_outbox",
        ] {
            let foreign = try admin.scalar(
                """
                SELECT count(*) FROM \(table) t
                WHERE \(table == "accounts" ? "t.structure_id" : table == "email_outbox" ? "t.structure_id" : "(SELECT structure_id FROM dossiers WHERE id = t.dossier_id)")
                    <> (SELECT id FROM structures WHERE code = 'villefranche')
                """, as: Int.self)
            #expect(foreign == 0, "\(table) shows another structure's rows")
        }
        // The owner sees saint-amour's family; the administrator does not, even by name.
        #expect(try admin.scalar("SELECT count(*) FROM accounts WHERE last_name = 'O''Connor'", as: Int.self) == 0)
        let owner = try Fixture.connection(conninfo)
        #expect(try owner.scalar("SELECT count(*) FROM accounts WHERE last_name = 'O''Connor'", as: Int.self) == 1)
    }

    @Test func aStructuresAdministratorCannotChangeAnotherStructure() throws {
        let (conninfo, role) = try villefrancheAdmin()
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        let owner = try Fixture.connection(conninfo)
        let ptl = try #require(try owner.scalar("SELECT id FROM dossiers WHERE external_id = 'PTL-0001'", as: Int64.self))
        // Invisible rows are not updated or deleted: nothing happens.
        #expect(try admin.query("UPDATE dossiers SET state = 'validated' WHERE id = $1", [ptl]).rowsAffected == 0)
        #expect(try admin.query("DELETE FROM dossier_queue WHERE dossier_id = $1", [ptl]).rowsAffected == 0)
        // Its own rows it may change: the four villefranche emails (VLF-0001 has two).
        #expect(try admin.query("UPDATE email_outbox SET exported_at = now() WHERE structure_id <> 0").rowsAffected == 4)
        #expect(try owner.scalar("SELECT state::text FROM dossiers WHERE id = $1", [ptl], as: String.self) == "awaiting_review")
        // Writing into another structure is refused outright.
        let saintAmour = try #require(try owner.scalar("SELECT id FROM structures WHERE code = 'saint-amour'", as: Int64.self))
        let error = try #require(throws: PostgresError.self) {
            try admin.query(
                "INSERT INTO accounts (structure_id, email, first_name, last_name) VALUES ($1, 'x@y', 'X', 'Y')", [saintAmour])
        }
        #expect(error.sqlState == "42501")
        // And the mapping itself is not theirs to read or change.
        #expect(throws: PostgresError.self) {
            try admin.query("INSERT INTO structure_admins VALUES ($1, $2)", [role, saintAmour])
        }
    }

    @Test func revokingEndsTheAccess() throws {
        let (conninfo, role) = try villefrancheAdmin()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        #expect(try administration.admins().map(\.structure).contains("villefranche"))
        #expect(try administration.revokeAdmin(role: role, structure: "villefranche"))
        let admin = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        #expect(throws: PostgresError.self) { try admin.query("SELECT count(*) FROM dossiers") } // no longer eticket_admin
        #expect(try administration.revokeAdmin(role: role, structure: "villefranche") == false)
        #expect(throws: BackOfficeError.self) { try administration.grantAdmin(role: "no_such_role_x", structure: "villefranche") }
        #expect(throws: BackOfficeError.self) { try administration.grantAdmin(role: role, structure: "nowhere") }
    }

    /// A role whose name carries SQL behind a quote that U+0600 hides from a grapheme comparison:
    /// granting and revoking it change its own membership of `eticket_admin` and nothing else.
    @Test func aHostileRoleNameIsGrantedAsAName() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let owner = try Fixture.connection(conninfo)
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let victim = "victim_\(suffix)"
        try owner.execute(script: "CREATE ROLE \(victim) LOGIN")
        defer { try? owner.execute(script: "DROP ROLE \(victim)") }
        for hostile in [
            "x\u{0600}\"; GRANT eticket_worker TO \(victim); --\(suffix)", "\u{0605}\"\u{0600}\"\"\(suffix)",
            "e\u{0301}\"\u{200D}\\\(suffix)",
        ] {
            try owner.query("SELECT format('CREATE ROLE %I LOGIN', $1::text) AS sql", [hostile]).first.map {
                try owner.execute(script: try $0.decode(String.self, "sql"))
            }
            try administration.grantAdmin(role: hostile, structure: "villefranche")
            let memberships = """
                SELECT coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '') FROM pg_auth_members m
                JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1
                """
            #expect(try owner.scalar(memberships, [hostile], as: String.self) == "eticket_admin")
            #expect(try owner.scalar(memberships, [victim], as: String.self) == "")
            #expect(try administration.revokeAdmin(role: hostile, structure: "villefranche"))
            #expect(try owner.scalar(memberships, [hostile], as: String.self) == "")
            try owner.query("SELECT format('DROP ROLE %I', $1::text) AS sql", [hostile]).first.map {
                try owner.execute(script: try $0.decode(String.self, "sql"))
            }
        }
    }

    @Test func theWorkerRoleHasWhatAWorkerNeeds() throws {
        let conninfo = try Fixture.submittedExamplesDatabase()
        let role = "worker_\(UUID().uuidString.prefix(8).lowercased())"
        let owner = try Fixture.connection(conninfo)
        try owner.execute(script: "CREATE ROLE \(role) LOGIN IN ROLE eticket_worker")
        let summary = try WorkerRunner(
            conninfo: "\(conninfo) user=\(role)", configuration: WorkerConfiguration(),
            outbox: try EmailOutbox(directory: Fixture.templates), logger: Fixture.logger
        ).drain()
        #expect(summary.claimed == 4)
        #expect(try owner.scalar("SELECT count(*) FROM email_outbox", as: Int.self) == 4)
        // But it cannot rewrite a family's dossier.
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        #expect(throws: PostgresError.self) { try worker.query("UPDATE dossiers SET notes = 'x'") }
        #expect(throws: PostgresError.self) { try worker.query("DELETE FROM decisions") }
    }

    /// COPY FROM refuses any table under row-level security: the import stages its rows for the
    /// roles subject to it (issue 16: as an administrator every line was rejected).
    @Test func anAdministratorImportsItsOwnStructuresDossiersOnly() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let role = "admin_\(UUID().uuidString.prefix(8).lowercased())"
        let owner = try Fixture.connection(conninfo)
        try owner.execute(script: "CREATE ROLE \(role) LOGIN")
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        try administration.grantAdmin(role: role, structure: "villefranche")
        let admin = try Administration(conninfo: "\(conninfo) user=\(role)", actor: "admin:\(role)", logger: Fixture.logger)
        defer { admin.close() }
        let report = try admin.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        #expect(report.created == 3)
        #expect(report.rejected.map(\.externalID) == ["PTL-0001"])
        #expect(try owner.scalar("SELECT count(*) FROM children", as: Int.self) == 3)
        #expect(
            try owner.scalar("SELECT string_agg(DISTINCT login_role, ',') FROM dossier_events", as: String.self) == role)
        // The address the family's emails go to is not the administrator's to change.
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:\(role)")
        let error = try connection.refusal("UPDATE accounts SET email = 'attacker@example.org'")
        #expect(error.sqlState == "42501")
    }

    @Test func theIntakeRoleImportsEveryStructure() throws {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let role = "intake_\(UUID().uuidString.prefix(8).lowercased())"
        let owner = try Fixture.connection(conninfo)
        try owner.execute(script: "CREATE ROLE \(role) LOGIN IN ROLE eticket_intake")
        let intake = try Administration(conninfo: "\(conninfo) user=\(role)", actor: "import", logger: Fixture.logger)
        defer { intake.close() }
        let report = try intake.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        #expect(report.created == 4 && report.rejected.isEmpty)
        // But it decides nothing.
        let connection = try Fixture.connection("\(conninfo) user=\(role)", actor: "admin:x")
        #expect(throws: PostgresError.self) {
            try connection.query(
                "INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by) SELECT id, 1, 'validated', 'x', repeat('0', 64), 'admin:x' FROM dossiers LIMIT 1"
            )
        }
    }
}
