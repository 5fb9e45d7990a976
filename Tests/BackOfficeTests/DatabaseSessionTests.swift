import Testing

@testable import BackOffice

@Suite("Connections: the session every part of the back office works in")
struct DatabaseSessionTests {
    @Test func theSessionNamesTheActorAndSetsThePlanner() throws {
        let connection = try Database.connect(try Fixture.migratedDatabase(), actor: "test:session")
        defer { connection.close() }
        let row = try #require(
            try connection.query(
                """
                SELECT current_setting('eticket.actor') AS actor, current_setting('jit') AS jit,
                       current_setting('random_page_cost') AS random_page_cost
                """
            ).first)
        #expect(try row.decode(String.self, "actor") == "test:session")
        #expect(try row.decode(String.self, "jit") == "off")
        #expect(try row.decode(String.self, "random_page_cost") == "1.1")
    }
}
