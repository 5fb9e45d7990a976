/// A month of the civil calendar, `YYYY-MM`: the month a planning shows.
public struct CalendarMonth: Hashable, Sendable, CustomStringConvertible {
    /// The month's first day.
    public let firstDay: CalendarDate

    /// Parses exactly `YYYY-MM` (RFC 3339 `date-fullyear "-" date-month`), or returns `nil`.
    public init?(iso text: some StringProtocol) {
        // Day 01 always exists: the month is real exactly when its first day is.
        guard text.utf8.count == 7, let first = CalendarDate(iso: text + "-01") else { return nil }
        firstDay = first
    }

    /// The month's last day.
    public var lastDay: CalendarDate {
        firstDay.adding(days: CalendarDate.daysIn(month: firstDay.month, year: firstDay.year) - 1)
    }

    public var description: String { String(firstDay.description.prefix(7)) }
}
