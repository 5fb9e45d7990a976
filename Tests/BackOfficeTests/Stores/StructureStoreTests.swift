import Dossiers
import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Every StructureStore method against the migrated schema.
@Suite("StructureStore")
struct StructureStoreTests {
    private func examples() throws -> [Structure] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Fixture.examples)/structures.json"))
        guard case .success(let structures) = StructuresContract.decode(Array(data)) else {
            throw BackOfficeError(.badInput, "the example structures no longer decode")
        }
        return structures
    }

    @Test func idByCode() throws {
        let connection = try Fixture.connection(try Fixture.exampleStructuresDatabase())
        defer { connection.close() }
        let store = StructureStore(connection: connection)
        #expect(try store.id(code: "villefranche") != nil)
        #expect(try store.id(code: "nowhere") == nil)
    }

    @Test func upsertAStructureCreatesThenUpdatesThenLeavesIt() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let store = StructureStore(connection: connection)
        var structure = try #require(try examples().first)
        #expect(try store.upsert(structure) == .created)
        #expect(try store.upsert(structure) == .unchanged)
        structure.name += " (renamed)"
        #expect(try store.upsert(structure) == .updated)
    }

    @Test func upsertADocumentKind() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let store = StructureStore(connection: connection)
        let structure = try #require(try examples().first)
        _ = try store.upsert(structure)
        var kind = try #require(structure.documentKinds.first)
        #expect(try store.upsert(kind, structure: structure.code))
        #expect(try !store.upsert(kind, structure: structure.code))
        kind.label += " (new label)"
        #expect(try store.upsert(kind, structure: structure.code))
    }

    @Test func upsertAService() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let store = StructureStore(connection: connection)
        let structure = try #require(try examples().first)
        _ = try store.upsert(structure)
        var service = try #require(structure.services.first)
        #expect(try store.upsert(service, structure: structure.code))
        #expect(try !store.upsert(service, structure: structure.code))
        service.weekdays = [1]
        #expect(try store.upsert(service, structure: structure.code))
    }

    @Test func upsertAPeriod() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let store = StructureStore(connection: connection)
        let structure = try #require(try examples().first)
        _ = try store.upsert(structure)
        var period = try #require(structure.periods.first)
        #expect(try store.upsert(period, structure: structure.code))
        #expect(try !store.upsert(period, structure: structure.code))
        period.label += " (new label)"
        #expect(try store.upsert(period, structure: structure.code))
    }
}
