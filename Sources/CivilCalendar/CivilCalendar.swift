/// Day arithmetic in the proleptic Gregorian calendar, with no time zone and no Foundation: the one
/// implementation behind `Dossiers.CalendarDate` (the domain's days) and `Postgres`' `date` and
/// `timestamptz` values. A module of its own because neither of those may depend on the other: the
/// domain knows nothing of the database driver, and the driver nothing of the domain.
package enum CivilCalendar {
    /// Days since 1970-01-01 (negative before) of a civil date: Howard Hinnant's `days_from_civil`,
    /// exact for any year. The month is 1...12; the day is not checked against the month (the 31st
    /// of a 30-day month counts as the 1st of the next, which callers use to detect it).
    package static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil date `days` days after 1970-01-01: the inverse of
    /// ``daysSinceEpoch(year:month:day:)`` (Hinnant's `civil_from_days`).
    package static func date(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
