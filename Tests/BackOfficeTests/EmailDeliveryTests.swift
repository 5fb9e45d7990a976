import BackOffice
import Postgres
import Testing

/// The delivery states of migration 018 and their Swift mirror.
@Suite("Email delivery states")
struct EmailDeliveryTests {
    @Test func theSwiftEnumMirrorsTheDatabaseEnum() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let labels = try connection.query("SELECT unnest(enum_range(NULL::email_delivery))::text AS s").map {
            try $0.decode(String.self, "s")
        }
        #expect(labels == EmailDelivery.allCases.map(\.rawValue))
    }
}
