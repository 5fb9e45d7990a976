import BackOffice
import Foundation
import Postgres
import TestSupport
import Testing

/// Rights per child and period (sql/030), from the attacker's side: what 006's foreign key and
/// unique key guaranteed is now the triggers' and the gate's, and a login of each role tries to
/// get around them. In the decided examples, VLF-0001 (villefranche) has its planning open: Zoé,
/// its first child, has rights for cantine and mercredi in 2026-2027.
@Suite("Reservation rights hold against the roles' logins")
struct ReservationRightsGuardsTests {
    /// A session of a new login of `group` (an administrator of `structure`), declaring `actor`.
    private static func session(
        _ group: String, _ conninfo: String, administering structure: String? = nil, actor: String
    ) throws -> Connection {
        let role = try AuditTruthTests.login(group, on: conninfo, administering: structure)
        return try Fixture.connection("\(conninfo) user=\(role)", actor: actor)
    }

    /// Zoé's rights row, as the owner reads it.
    private static let zoe = """
        SELECT c.id FROM children c JOIN dossiers d ON d.id = c.dossier_id WHERE d.external_id = 'VLF-0001' AND c.position = 0
        """

    /// Rights for `child` (a query) under VLF-0001, every service of villefranche, opened by `openedBy`.
    private static func rightsSQL(child: String) -> String {
        """
        INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
        SELECT d.id, p.id, (\(child)), d.structure_id,
               ARRAY(SELECT v.id FROM services v WHERE v.structure_id = d.structure_id), $1
        FROM dossiers d JOIN periods p ON p.structure_id = d.structure_id WHERE d.external_id = 'VLF-0001'
        """
    }

    @Test func aWorkerCannotOpenRightsForAnotherDossiersChild() throws {
        let conninfo = try Fixture.decidedExamples()
        let worker = try Self.session("eticket_worker", conninfo, actor: "worker:test:1")
        defer { worker.close() }
        let foreign =
            "SELECT c.id FROM children c JOIN dossiers d ON d.id = c.dossier_id WHERE d.external_id = 'VLF-0002' LIMIT 1"
        let error = try worker.refusal(Self.rightsSQL(child: foreign), ["worker:test:1"])
        #expect(error.sqlState == "ETK04", "\(error.message)")
        #expect(error.message.contains("does not belong to dossier"))
    }

    @Test func anAdministratorCannotOpenRightsInAnotherStructure() throws {
        let conninfo = try Fixture.decidedExamples()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        // What the administrator of saint-amour cannot see: Zoé's dossier, period and services.
        let zoe = try #require(
            try owner.query(
                """
                SELECT r.dossier_id, r.period_id, r.child_id, r.structure_id, s.id AS own_structure, p.id AS own_period
                FROM child_period_rights r, structures s JOIN periods p ON p.structure_id = s.id
                WHERE r.child_id = (\(Self.zoe)) AND s.code = 'saint-amour'
                """
            ).first)
        let admin = try Self.session("eticket_admin", conninfo, administering: "saint-amour", actor: "admin:x")
        defer { admin.close() }
        let insert = """
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
            SELECT $1, $2, $3, $4, ARRAY(SELECT id FROM services WHERE structure_id = $5), 'admin:x'
            """
        let ids: [Int64] = try ["dossier_id", "period_id", "child_id", "structure_id"].map { try zoe.decode($0) }
        let villefranche: Int64 = try zoe.decode("structure_id")
        let saintAmour: Int64 = try zoe.decode("own_structure")
        // Under villefranche's name, row-level security refuses it; under its own, the guard does.
        let named = try admin.refusal(insert, [ids[0], ids[1], ids[2], villefranche, saintAmour])
        #expect(named.sqlState == "42501", "\(named.message)")
        let ownPeriod: Int64 = try zoe.decode("own_period")
        let lying = try admin.refusal(insert, [ids[0], ownPeriod, ids[2], saintAmour, saintAmour])
        #expect(lying.sqlState == "ETK04" || lying.sqlState == "23503", "\(lying.message)")
        #expect(try owner.scalar("SELECT count(*) FROM reservation_rights WHERE child_id = $1", [ids[2]], as: Int.self) == 2)
    }

    @Test func rightsAreOnlyWidened() throws {
        let conninfo = try Fixture.decidedExamples()
        let worker = try Self.session("eticket_worker", conninfo, actor: "worker:test:1")
        defer { worker.close() }
        let narrowed = try worker.refusal(
            "UPDATE child_period_rights SET service_ids = service_ids[1:1] WHERE child_id = (\(Self.zoe))")
        #expect(narrowed.sqlState == "ETK04")
        #expect(narrowed.message.contains("only widened"), "\(narrowed.message)")
        // A worker may add a service (the opening does), never move rights to another child.
        let moved = try worker.refusal("UPDATE child_period_rights SET child_id = child_id + 1")
        #expect(moved.sqlState == "42501", "\(moved.message)")
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        let movedByOwner = try owner.refusal(
            "UPDATE child_period_rights SET child_id = child_id + 1 WHERE child_id = (\(Self.zoe))")
        #expect(movedByOwner.sqlState == "ETK04", "\(movedByOwner.message)")
        #expect(try owner.scalar("SELECT count(*) FROM reservation_rights WHERE child_id = (\(Self.zoe))", as: Int.self) == 2)
    }

    @Test func rightsNameEachServiceOnce() throws {
        let owner = try Fixture.connection(try Fixture.decidedExamples())
        defer { owner.close() }
        let twice = try owner.refusal(
            "UPDATE child_period_rights SET service_ids = service_ids || service_ids[1] WHERE child_id = (\(Self.zoe))")
        #expect(twice.sqlState == "23503", "\(twice.message)")
        let none = try owner.refusal(
            """
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by)
            SELECT dossier_id, period_id, child_id, structure_id, '{}', opened_by FROM child_period_rights LIMIT 1
            """)
        #expect(none.sqlState == "23514", "\(none.message)")
    }

    @Test func anAdministratorBooksNothingWithoutTheRight() throws {
        let conninfo = try Fixture.decidedExamples()
        let admin = try Self.session("eticket_admin", conninfo, administering: "villefranche", actor: "admin:x")
        defer { admin.close() }
        // Zoé asked for cantine and mercredi, not garderie-matin; Thursday 3 December 2026 is open.
        let error = try admin.refusal(
            """
            INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
            SELECT (\(Self.zoe)), v.id, p.id, '2026-12-03', 'admin:x' FROM services v JOIN periods p ON p.structure_id = v.structure_id
            WHERE v.code = 'garderie-matin'
            """)
        #expect(error.sqlState == "ETK04")
        #expect(error.message == "the child has no reservation rights for this service and period")
    }

    @Test func removingRightsRemovesTheirReservationsAndOnlyTheirs() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.addReservations(child: "VLF-0001/1", service: "cantine", dates: ["2026-12-03"])
        _ = try administration.addReservations(child: "VLF-0001/2", service: "cantine", dates: ["2026-12-03"])
        let admin = try Self.session("eticket_admin", conninfo, administering: "villefranche", actor: "admin:x")
        defer { admin.close() }
        #expect(try admin.query("DELETE FROM child_period_rights WHERE child_id = (\(Self.zoe))").rowsAffected == 1)
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        #expect(
            try owner.scalar(
                "SELECT string_agg(c.position::text, ',') FROM reservations r JOIN children c ON c.id = r.child_id",
                as: String.self) == "1")
    }

    @Test func anAdministratorCannotTruncateRights() throws {
        let conninfo = try Fixture.decidedExamples()
        let admin = try Self.session("eticket_admin", conninfo, administering: "villefranche", actor: "admin:x")
        defer { admin.close() }
        #expect(try admin.refusal("TRUNCATE child_period_rights").sqlState == "42501")
        #expect(try admin.refusal("TRUNCATE child_period_rights, reservations").sqlState == "42501")
        // The owner: refused by the guard (IntegrityGuardsTests), as a referenced table was.
    }

    /// As the foreign key did, a reservation holds its right until its transaction ends: a removal
    /// of the right (which takes each row's lock) cannot slip between the gate's check and the
    /// commit, and then removes the reservation with it.
    @Test func aReservationInFlightHoldsItsRight() throws {
        let conninfo = try Fixture.decidedExamples()
        let booking = try Self.session("eticket_admin", conninfo, administering: "villefranche", actor: "admin:x")
        defer { booking.close() }
        try booking.execute(script: "BEGIN")
        try booking.query(
            """
            INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
            SELECT (\(Self.zoe)), v.id, p.id, '2026-12-03', 'admin:x' FROM services v JOIN periods p ON p.structure_id = v.structure_id
            WHERE v.code = 'cantine'
            """)
        let remover = try Self.session("eticket_admin", conninfo, administering: "villefranche", actor: "admin:y")
        defer { remover.close() }
        let held = try remover.refusal(
            "SELECT 1 FROM child_period_rights WHERE child_id = (\(Self.zoe)) FOR UPDATE NOWAIT")
        #expect(held.sqlState == "55P03", "\(held.message)")
        try booking.execute(script: "COMMIT")
        #expect(try remover.query("DELETE FROM child_period_rights WHERE child_id = (\(Self.zoe))").rowsAffected == 1)
        #expect(try remover.scalar("SELECT count(*) FROM reservations", as: Int.self) == 0)
    }

    /// A database migrated before 030 keeps its rights and their reservations: 006's rows of one
    /// child and period become one row with both services.
    @Test func migration030CarriesTheRightsOver() throws {
        let conninfo = try TestDatabases.shared().create()
        let connection = try Fixture.connection(conninfo)
        defer { connection.close() }
        let migrations = try Migration.load(directory: Fixture.sql)
        _ = try Migrator(migrations: migrations.filter { $0.version < 30 }, logger: Fixture.logger).migrate(connection)
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        _ = try administration.applyStructures(file: "\(Fixture.examples)/structures.json")
        _ = try administration.importDossiers(file: "\(Fixture.examples)/dossiers.jsonl")
        // 006's rows, written past the guards: Zoé's cantine and mercredi, and a reservation.
        try connection.execute(
            script: """
                SET session_replication_role = replica;
                INSERT INTO reservation_rights (child_id, dossier_id, structure_id, service_id, period_id, opened_by)
                SELECT c.id, d.id, d.structure_id, v.id, p.id, 'admin:test'
                FROM dossiers d JOIN children c ON c.dossier_id = d.id AND c.position = 0
                JOIN services v ON v.structure_id = d.structure_id AND v.code IN ('cantine', 'mercredi')
                JOIN periods p ON p.structure_id = d.structure_id WHERE d.external_id = 'VLF-0001';
                INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
                SELECT r.child_id, r.service_id, r.period_id, '2026-12-03', 'admin:test'
                FROM reservation_rights r JOIN services v ON v.id = r.service_id WHERE v.code = 'cantine';
                SET session_replication_role = origin;
                """)
        let applied = try Migrator(migrations: migrations, logger: Fixture.logger).migrate(connection)
        #expect(applied.first == 30)
        #expect(
            try connection.scalar(
                "SELECT count(*) || ' row, ' || min(cardinality(service_ids)) || ' services' FROM child_period_rights",
                as: String.self) == "1 row, 2 services")
        #expect(try connection.scalar("SELECT count(*) FROM reservation_rights", as: Int.self) == 2)
        #expect(try connection.scalar("SELECT count(*) FROM reservations", as: Int.self) == 1)
    }
}
