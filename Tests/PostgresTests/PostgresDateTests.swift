import Postgres
import Testing

@Suite struct PostgresDateTests {
    @Test func datesRoundTrip() throws {
        let connection = try freshConnection()
        for value in [
            PostgresDate(year: 2026, month: 8, day: 21), PostgresDate(year: 2024, month: 2, day: 29),
            PostgresDate(year: 1, month: 1, day: 1), PostgresDate(year: 9999, month: 12, day: 31),
        ] {
            #expect(try roundTrip(value, as: "date", on: connection) == value)
        }
        #expect(
            try serverValue("'2026-09-01'::date - 1", as: PostgresDate.self, on: connection)
                == PostgresDate(year: 2026, month: 8, day: 31))
    }

    @Test func formatsAndOrders() {
        #expect(PostgresDate(year: 987, month: 3, day: 4).description == "0987-03-04")
        #expect(PostgresDate(year: 2026, month: 1, day: 31) < PostgresDate(year: 2026, month: 2, day: 1))
    }

    @Test func refusesImpossibleDates() {
        #expect(throws: PostgresDecodingFailure.self) { try PostgresDate(postgresText: "2026-02-30") }
        #expect(throws: PostgresDecodingFailure.self) { try PostgresDate(postgresText: "2026-13-01") }
        #expect(throws: PostgresDecodingFailure.self) { try PostgresDate(postgresText: "infinity") }
        #expect(throws: PostgresDecodingFailure.self) { try PostgresDate(postgresText: "2026-08-21 BC") }
    }
}
