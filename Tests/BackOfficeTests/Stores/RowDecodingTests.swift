import Dossiers
import Mail
import Postgres
import Testing

@testable import BackOffice

/// An enum column decodes to its Swift enum, and a label the enum does not know is an error that
/// names the column and the value: never a silent default.
@Suite("StoredEnum decoding")
struct RowDecodingTests {
    @Test func everyLabelOfTheSQLEnumsDecodes() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        func labels(_ type: String) throws -> [String] {
            try connection.query("SELECT unnest(enum_range(NULL::\(type)))::text AS label").map { try $0.decode("label") }
        }
        #expect(try Set(labels("dossier_state").map { try DossierState(postgresText: $0) }) == Set(DossierState.allCases))
        #expect(try Set(labels("decision_outcome").map { try Outcome(postgresText: $0) }) == Set(Outcome.allCases))
        #expect(try Set(labels("queue_job").map { try QueueItem.Job(postgresText: $0) }) == Set(QueueItem.Job.allCases))
        #expect(try Set(labels("email_kind").map { try EmailKind(postgresText: $0) }) == Set(EmailKind.allCases))
        #expect(try Set(labels("email_delivery").map { try EmailDelivery(postgresText: $0) }) == Set(EmailDelivery.allCases))
    }

    @Test func anUnknownLabelNamesTheColumnAndTheValue() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let row = try #require(try connection.query("SELECT 'archived' AS state, 'later' AS job").first)
        let error = try #require(throws: PostgresError.self) { try row.decode(DossierState.self, "state") }
        #expect(error.message.contains("column \"state\""))
        #expect(error.message.contains("'archived' is not a DossierState"))
        #expect(error.message.contains("awaiting_review"))
        #expect(throws: PostgresError.self) { try row.decode(QueueItem.Job.self, "job") }
    }

    @Test func statesBindAsAnArray() throws {
        let connection = try Fixture.connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let states: [DossierState] = [.awaitingReview, .planningOpen]
        #expect(
            try connection.scalar("SELECT array_to_string($1::dossier_state[], ',')", [states], as: String.self)
                == "awaiting_review,planning_open")
    }
}
