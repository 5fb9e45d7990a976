import Postgres
import TestSupport
import Testing

@testable import BackOffice

@Suite("SessionStore")
struct SessionStoreTests {
    @Test func prepareSetsTheActorAndThePlannerForTheSession() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        try SessionStore(connection: connection).prepare(actor: "admin:alice")
        #expect(try connection.scalar("SELECT current_setting('eticket.actor')", as: String.self) == "admin:alice")
        #expect(try connection.scalar("SELECT current_setting('jit')", as: String.self) == "off")
        #expect(try connection.scalar("SELECT current_setting('random_page_cost')", as: String.self) == "1.1")
        #expect(try connection.scalar("SELECT current_setting('client_connection_check_interval')", as: String.self) == "5s")
    }
}
