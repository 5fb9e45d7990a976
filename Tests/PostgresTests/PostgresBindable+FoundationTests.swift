import Foundation
import Postgres
import Testing

@Suite struct PostgresBindableFoundationTests {
    @Test func decimalsRoundTripWithoutBinaryRounding() throws {
        let connection = try freshConnection()
        for text in ["0", "0.1", "-123.45", "12345678901234567890.123456789", "-0.000001"] {
            let value = try #require(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")))
            #expect(try roundTrip(value, as: "numeric", on: connection) == value)
        }
        #expect(try serverValue("0.1::numeric + 0.2::numeric", as: Decimal.self, on: connection) == Decimal(string: "0.3"))
        #expect(throws: PostgresDecodingFailure.self) { try Decimal(postgresText: "12abc") }
    }

    @Test func uuidsRoundTrip() throws {
        let connection = try freshConnection()
        let value = UUID()
        #expect(try roundTrip(value, as: "uuid", on: connection) == value)
        let fixed = try #require(UUID(uuidString: "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"))
        #expect(try serverValue("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", as: UUID.self, on: connection) == fixed)
    }

    @Test func timestampsRoundTripToTheMicrosecond() throws {
        let connection = try freshConnection()
        let value = Date(timeIntervalSince1970: 1_787_331_851.123456)
        let back = try roundTrip(value, as: "timestamptz", on: connection)
        #expect(abs(back.timeIntervalSince1970 - value.timeIntervalSince1970) < 0.000_001)
        let old = Date(timeIntervalSince1970: -2_000_000_000.5)
        #expect(
            abs(try roundTrip(old, as: "timestamptz", on: connection).timeIntervalSince1970 - old.timeIntervalSince1970)
                < 0.000_001)
    }

    @Test func timestampsWithNonUTCInputOffsetsMeanTheSameInstant() throws {
        let connection = try freshConnection()
        // 2026-08-21 17:04:11.123456 UTC, written in three zones.
        let expected = 1_787_331_851.123456
        for literal in ["2026-08-21 19:04:11.123456+02", "2026-08-21 22:34:11.123456+05:30", "2026-08-21 13:04:11.123456-04"] {
            let value = try serverValue("'\(literal)'::timestamptz", as: Date.self, on: connection)
            #expect(abs(value.timeIntervalSince1970 - expected) < 0.000_001, "\(literal)")
        }
    }

    @Test func timestampTextInOtherZonesDecodes() throws {
        // The server prints these when a session's TimeZone is not UTC.
        let expected = 1_787_331_851.5
        for text in [
            "2026-08-21 17:04:11.5+00", "2026-08-21 19:04:11.5+02", "2026-08-21 22:34:11.5+05:30", "2026-08-21T17:04:11.500Z",
        ] {
            let value = try Date(postgresText: text)
            #expect(abs(value.timeIntervalSince1970 - expected) < 0.000_001, "\(text)")
        }
        #expect(try Date(postgresText: "1970-01-01 00:00:00+00").timeIntervalSince1970 == 0)
        #expect(throws: PostgresDecodingFailure.self) { try Date(postgresText: "infinity") }
        #expect(throws: PostgresDecodingFailure.self) { try Date(postgresText: "2026-08-21 17:04:11+00 BC") }
    }
}
