import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Every AdminStore method against the migrated schema, on the decided examples.
@Suite("AdminStore")
struct AdminStoreTests {
    /// A fresh login role, and a connection of the schema's owner.
    private func role(_ conninfo: String) throws -> (String, Connection) {
        let role = "admin_\(UUID().uuidString.prefix(8).lowercased())"
        let owner = try Fixture.connection(conninfo)
        try owner.execute(script: "CREATE ROLE \(role) LOGIN")
        return (role, owner)
    }

    private func isMember(_ role: String, on connection: Connection) throws -> Bool {
        try connection.scalar("SELECT pg_has_role($1, 'eticket_admin', 'MEMBER')", [role], as: Bool.self) == true
    }

    @Test func grantAndRevokeTheAdminRole() throws {
        let (role, owner) = try role(try Fixture.decidedExamples())
        defer { owner.close() }
        let store = AdminStore(connection: owner)
        #expect(try store.grantAdminRole(to: role))
        #expect(try isMember(role, on: owner))
        try store.revokeAdminRole(from: role)
        #expect(try !isMember(role, on: owner))
        #expect(try !store.grantAdminRole(to: "no_such_role_x"))
        try store.revokeAdminRole(from: "no_such_role_x")
    }

    @Test func mapUnmapAndAdministersAny() throws {
        let conninfo = try Fixture.decidedExamples()
        let (role, owner) = try role(conninfo)
        defer { owner.close() }
        let store = AdminStore(connection: owner)
        let structureID = try #require(try StructureStore(connection: owner).id(code: "villefranche"))
        #expect(try !store.administersAny(role: role))
        try store.map(role: role, structureID: structureID)
        try store.map(role: role, structureID: structureID)
        #expect(try store.administersAny(role: role))
        #expect(try store.unmap(role: role, structureID: structureID))
        #expect(try !store.unmap(role: role, structureID: structureID))
        #expect(try !store.administersAny(role: role))
    }

    @Test func grantsByRoleThenStructure() throws {
        let conninfo = try Fixture.decidedExamples()
        let (role, owner) = try role(conninfo)
        defer { owner.close() }
        let store = AdminStore(connection: owner)
        let structures = StructureStore(connection: owner)
        try store.map(role: role, structureID: try #require(try structures.id(code: "villefranche")))
        try store.map(role: role, structureID: try #require(try structures.id(code: "saint-amour")))
        let grants = try store.grants().filter { $0.role == role }
        #expect(grants.map(\.structure) == ["saint-amour", "villefranche"])
    }
}
