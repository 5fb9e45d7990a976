import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Every ServerInfoStore method against the migrated schema: each probe answers yes for what the
/// migrations grant and no for what an attacker would want.
@Suite("ServerInfoStore")
struct ServerInfoStoreTests {
    private func store() throws -> (ServerInfoStore, Connection) {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        return (ServerInfoStore(connection: connection), connection)
    }

    @Test func holdsByTableAndByColumn() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        #expect(try store.holds(.init(role: "eticket_worker", privilege: "INSERT", table: "decisions")))
        #expect(try store.holds(.init(role: "eticket_batch", privilege: "UPDATE", table: "email_outbox", columns: "exported_at")))
        // One column granted does not stand for another.
        #expect(
            try !store.holds(
                .init(role: "eticket_batch", privilege: "UPDATE", table: "email_outbox", columns: "exported_at, recipient")))
        #expect(try !store.holds(.init(role: "eticket_intake", privilege: "DELETE", table: "dossiers")))
    }

    @Test func holdsOnTableForTheAuditTrail() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        for role in Doctor.jobRoles {
            for privilege in ["UPDATE", "DELETE", "TRUNCATE"] {
                #expect(try !store.holdsOnTable(.init(role: role, privilege: privilege, table: "dossier_events")))
            }
        }
        #expect(try store.holdsOnTable(.init(role: "eticket_admin", privilege: "SELECT", table: "dossiers")))
    }

    @Test func rolesAndMembership() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        #expect(try store.existingRoles(among: Doctor.jobRoles + ["no_such_role_x"]) == Set(Doctor.jobRoles))
        #expect(try store.isMember("eticket_batch", of: "eticket_worker"))
        #expect(try !store.isMember("eticket_intake", of: "eticket_worker"))
    }

    @Test func policyHelpersAndSearchPaths() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        #expect(try store.policyHelpersOpenToPublic().isEmpty)
        #expect(try store.functionsWithoutPinnedSearchPath().isEmpty)
        try connection.execute(script: "CREATE FUNCTION loose() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        #expect(try store.functionsWithoutPinnedSearchPath() == ["loose()"])
    }

    @Test func clocksSayWhetherTheDecisionClockIsPinned() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        let clocks = try #require(try store.clocks())
        #expect(clocks.pinned == ISO8601DateFormatter().date(from: Fixture.storyInstant))
        #expect(abs(clocks.server.timeIntervalSinceNow) < 3600)
    }

    @Test func queueHealthCountsParkedRetryingAndQueued() throws {
        let (store, connection) = try store()
        defer { connection.close() }
        #expect(try store.queueHealth() == .init(parked: 0, retrying: 0, queued: 0))
        try Fixture.park("VLF-0002", on: connection)
        try connection.query(
            "INSERT INTO dossier_queue (dossier_id, attempts) SELECT id, 2 FROM dossiers WHERE external_id = 'VLF-0003'")
        #expect(try store.queueHealth() == .init(parked: 1, retrying: 1, queued: 2))
    }

    @Test func repairStatements() {
        let privilege = ServerInfoStore.Privilege(
            role: "eticket_batch", privilege: "UPDATE", table: "email_outbox", columns: "exported_at")
        #expect(ServerInfoStore.grantStatement(privilege) == "GRANT UPDATE (exported_at) ON email_outbox TO eticket_batch")
        #expect(ServerInfoStore.revokeStatement(.init(role: "r", privilege: "DELETE", table: "t")) == "REVOKE DELETE ON t FROM r")
        #expect(
            ServerInfoStore.grantMembershipStatement("eticket_worker", to: "eticket_batch")
                == "GRANT eticket_worker TO eticket_batch")
        #expect(ServerInfoStore.createRoleStatement("eticket_intake") == "CREATE ROLE eticket_intake NOLOGIN")
        #expect(ServerInfoStore.revokeExecuteFromPublicStatement("f(int)") == "REVOKE EXECUTE ON FUNCTION f(int) FROM PUBLIC")
    }
}
