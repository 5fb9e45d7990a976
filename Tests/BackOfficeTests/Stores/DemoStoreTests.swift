import Postgres
import TestSupport
import Testing

@testable import BackOffice

/// Every DemoStore method, on an empty database and on the example structures.
@Suite("DemoStore")
struct DemoStoreTests {
    @Test func anEmptyDatabaseIsMarkedOnce() throws {
        let connection = try Connection(try TestDatabases.shared().create())
        defer { connection.close() }
        let store = DemoStore(connection: connection)
        try connection.transaction { connection throws in
            try DemoStore(connection: connection).lockClaim()
            #expect(try DemoStore(connection: connection).userTableCount() == 0)
        }
        #expect(try !store.isMarked())
        try store.mark()
        #expect(try store.isMarked())
        #expect(try store.userTableCount() == 1)
    }

    @Test func rowsOtherThanTheExamples() throws {
        let connection = try Fixture.connection(try Fixture.exampleStructuresDatabase())
        defer { connection.close() }
        let store = DemoStore(connection: connection)
        #expect(try store.rowsOtherThan(["villefranche", "saint-amour"], in: .structures) == 0)
        #expect(try store.rowsOtherThan(["villefranche"], in: .structures) == 1)
        #expect(try store.rowsOtherThan([], in: .dossiers) == 0)
    }

    @Test func aMissingTableIsNil() throws {
        let connection = try Connection(try TestDatabases.shared().create())
        defer { connection.close() }
        #expect(try DemoStore(connection: connection).rowsOtherThan([], in: .dossiers) == nil)
    }
}
