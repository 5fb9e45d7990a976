import ArgumentParser
import BackOffice
import Dossiers
import Foundation

/// The one reader of every date, time, month and duration given on the command line.
///
/// Each accepts exactly its documented form and nothing near it (no 30 February rolled into March,
/// no 99:99:99, nothing trailing), and refuses the rest with a usage error (exit 2) that names
/// the option, the value and the accepted form.
enum CommandLineValue {
    static let dateForm = "YYYY-MM-DD"
    static let timestampForm = "RFC 3339 with a zone, like 2027-01-15T09:00:00+01:00 or 2027-01-15T08:00:00Z"

    /// `YYYY-MM-DD`, a day of the calendar.
    static func date(_ text: String, option: String) throws -> CalendarDate {
        guard let date = CalendarDate(iso: text) else { throw refusal(option, text, "not a date; expected \(dateForm)") }
        return date
    }

    /// `YYYY-MM`.
    static func month(_ text: String, option: String) throws -> CalendarMonth {
        guard let month = CalendarMonth(iso: text) else { throw refusal(option, text, "not a month; expected YYYY-MM") }
        return month
    }

    /// A date (its first instant in UTC) or an RFC 3339 timestamp.
    static func dateOrTimestamp(_ text: String, option: String) throws -> Date {
        if let date = CalendarDate(iso: text) { return Date(timeIntervalSince1970: Double(date.daysSinceEpoch) * 86_400) }
        guard let instant = RFC3339.date(from: text) else {
            throw refusal(option, text, "not a date or a time; expected \(dateForm) or \(timestampForm)")
        }
        return instant
    }

    /// An RFC 3339 timestamp, or `YYYY-MM-DD HH:MM[:SS]` (or with `T`) in `timeZone`.
    ///
    /// A local time that the zone skips (the hour the clocks go forward) or passes twice (the hour
    /// they go back) is refused: which instant was meant cannot be known, so the offset must be given.
    static func instant(_ text: String, option: String, timeZone: TimeZone = .current) throws -> Date {
        if let instant = RFC3339.date(from: text) { return instant }
        guard let local = localTime(text, timeZone: timeZone) else {
            throw refusal(option, text, "not a date and time; expected \(timestampForm), or YYYY-MM-DD HH:MM in local time")
        }
        guard local.exists else {
            throw refusal(
                option, text,
                "no such time in \(timeZone.identifier) that day (the clocks go forward); give it with its offset, \(timestampForm)"
            )
        }
        guard !local.ambiguous else {
            throw refusal(
                option, text,
                "this time comes twice in \(timeZone.identifier) that day (the clocks go back); give it with its offset, \(timestampForm)"
            )
        }
        return local.instant
    }

    /// Whether `text` is a local time (no offset), to be read in some zone.
    static func isLocalTime(_ text: String) -> Bool {
        RFC3339.date(from: text) == nil && localTime(text, timeZone: .gmt) != nil
    }

    /// A positive duration, at most ten years (see `Duration(parsing:)`).
    static func duration(_ text: String, option: String) throws -> Duration {
        guard let duration = Duration(parsing: text) else {
            throw refusal(option, text, "not a duration; expected \(Duration.operatorDurationForm)")
        }
        return duration
    }

    private static func refusal(_ option: String, _ text: String, _ reason: String) -> ValidationError {
        ValidationError("\(option) \(text): \(reason)")
    }

    /// `YYYY-MM-DD HH:MM[:SS]` with a space or a `T`, hours 00–23, minutes and seconds 00–59.
    private static func localTime(_ text: String, timeZone: TimeZone) -> LocalTime? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16 || bytes.count == 19, let day = CalendarDate(iso: text.prefix(10)),
            bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"),
            let hour = twoDigits(bytes, 11), let minute = twoDigits(bytes, 14), hour <= 23, minute <= 59
        else { return nil }
        var second = 0
        if bytes.count == 19 {
            guard bytes[16] == UInt8(ascii: ":"), let value = twoDigits(bytes, 17), value <= 59 else { return nil }
            second = value
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let wanted = DateComponents(year: day.year, month: day.month, day: day.day, hour: hour, minute: minute, second: second)
        guard let instant = calendar.date(from: wanted) else { return nil }
        // Read back: a skipped time comes back as another; a repeated one has a twin an hour away.
        let fields: Set<Calendar.Component> = [.year, .month, .day, .hour, .minute, .second]
        func reads(_ date: Date) -> Bool {
            let back = calendar.dateComponents(fields, from: date)
            return back.year == day.year && back.month == day.month && back.day == day.day && back.hour == hour
                && back.minute == minute && back.second == second
        }
        let exists = reads(instant)
        let ambiguous = reads(instant.addingTimeInterval(3_600)) || reads(instant.addingTimeInterval(-3_600))
        return LocalTime(instant: instant, exists: exists, ambiguous: ambiguous)
    }

    private struct LocalTime {
        var instant: Date
        var exists: Bool
        var ambiguous: Bool
    }

    private static func twoDigits(_ bytes: [UInt8], _ start: Int) -> Int? {
        let digits = bytes[start..<start + 2]
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }
}
