/// A calendar date for `date` columns: no time, no zone, so no shift across time zones.
public struct PostgresDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// `YYYY-MM-DD`.
    public var description: String { "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" }

    public static func < (lhs: PostgresDate, rhs: PostgresDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

extension PostgresDate: PostgresBindable, PostgresDecodable, PostgresArrayElement {
    public var postgresText: String { description }

    /// Reads `YYYY-MM-DD` (DateStyle ISO); `infinity` and BC dates are refused.
    public init(postgresText: String) throws(PostgresDecodingFailure) {
        var scanner = DigitScanner(postgresText)
        guard let year = scanner.number(), scanner.skip("-"), let month = scanner.number(digits: 2), scanner.skip("-"),
            let day = scanner.number(digits: 2), scanner.atEnd
        else {
            throw PostgresDecodingFailure("not an ISO date YYYY-MM-DD (BC or infinity?)")
        }
        // Round-tripping through the day count rejects the 31st of a 30-day month and so on.
        let civil = civilDate(fromDaysSinceEpoch: daysSinceEpoch(year: year, month: month, day: day))
        guard (1...12).contains(month), civil == (year, month, day) else {
            throw PostgresDecodingFailure("not a valid calendar date")
        }
        self.init(year: Int(year), month: Int(month), day: Int(day))
    }
}
