internal import CivilCalendar
import Foundation

/// `numeric`. Decimal holds 38 significant digits: a wider numeric loses precision.
extension Decimal: PostgresBindable, PostgresDecodable {
    public var postgresText: String {
        isNaN ? "NaN" : description
    }

    public init(postgresText: String) throws(PostgresDecodingFailure) {
        if postgresText == "NaN" {
            self = .nan
            return
        }
        // Decimal(string:) accepts a valid prefix ("12abc" reads as 12): check the whole text first.
        let allowed = postgresText.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
                || byte == UInt8(ascii: "+")
        }
        guard allowed, let value = Decimal(string: postgresText, locale: Locale(identifier: "en_US_POSIX")) else {
            throw PostgresDecodingFailure("not a finite decimal number")
        }
        self = value
    }
}

extension UUID: PostgresBindable, PostgresDecodable, PostgresArrayElement {
    public var postgresText: String { uuidString.lowercased() }

    public init(postgresText: String) throws(PostgresDecodingFailure) {
        guard let value = UUID(uuidString: postgresText) else { throw PostgresDecodingFailure("not a UUID") }
        self = value
    }
}

/// `timestamptz`, to the microsecond (PostgreSQL's precision).
///
/// Sent as ISO 8601 in UTC (`2026-08-21T17:04:11.123456Z`). Read from PostgreSQL's ISO output,
/// whatever the zone offset (`+00`, `+02`, `+05:30`); a text without offset (a plain `timestamp`
/// column) is read as UTC, the session time zone this library sets.
extension Date: PostgresBindable, PostgresDecodable {
    public var postgresText: String {
        let interval = timeIntervalSince1970
        var seconds = Int64(interval.rounded(.down))
        var micros = Int64(((interval - Double(seconds)) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            seconds += 1
            micros -= 1_000_000
        }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(fromDaysSinceEpoch: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    public init(postgresText: String) throws(PostgresDecodingFailure) {
        var scanner = DigitScanner(postgresText)
        guard let year = scanner.number(), scanner.skip("-"), let month = scanner.number(digits: 2), scanner.skip("-"),
            let day = scanner.number(digits: 2), scanner.skip(" ") || scanner.skip("T"),
            let hour = scanner.number(digits: 2), scanner.skip(":"), let minute = scanner.number(digits: 2),
            scanner.skip(":"), let second = scanner.number(digits: 2)
        else {
            throw PostgresDecodingFailure("not an ISO timestamp (is DateStyle ISO?)")
        }
        var micros: Int64 = 0
        if scanner.skip(".") {
            var digits = 0
            while let digit = scanner.digit() {
                if digits < 6 { micros = micros * 10 + digit }
                digits += 1
            }
            guard digits > 0 else { throw PostgresDecodingFailure("empty fractional seconds") }
            for _ in digits..<max(digits, 6) { micros *= 10 }
        }
        var offset: Int64 = 0
        if scanner.skip("Z") {
            offset = 0
        } else if let sign = scanner.sign() {
            guard let hours = scanner.number(digits: 2) else { throw PostgresDecodingFailure("malformed zone offset") }
            var minutes: Int64 = 0
            var seconds: Int64 = 0
            if scanner.skip(":") {
                guard let value = scanner.number(digits: 2) else { throw PostgresDecodingFailure("malformed zone offset") }
                minutes = value
                if scanner.skip(":") {
                    guard let value = scanner.number(digits: 2) else {
                        throw PostgresDecodingFailure("malformed zone offset")
                    }
                    seconds = value
                }
            }
            offset = sign * (hours * 3600 + minutes * 60 + seconds)
        }
        guard scanner.atEnd else { throw PostgresDecodingFailure("unexpected text after the timestamp (BC or infinity?)") }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else {
            throw PostgresDecodingFailure("timestamp field out of range")
        }
        let days = daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        self.init(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
    }
}

// MARK: - Calendar arithmetic shared with PostgresDate

/// Days since 1970-01-01 of a proleptic Gregorian date, with no dependency on the process time zone.
func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
    Int64(CivilCalendar.daysSinceEpoch(year: Int(year), month: Int(month), day: Int(day)))
}

/// The inverse of ``daysSinceEpoch(year:month:day:)``.
func civilDate(fromDaysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let date = CivilCalendar.date(daysSinceEpoch: Int(days))
    return (Int64(date.year), Int64(date.month), Int64(date.day))
}

/// Zero-pads a non-negative number to `width` digits.
func pad(_ value: some BinaryInteger, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// Reads the fixed shapes of PostgreSQL's date and time output, byte by byte.
struct DigitScanner {
    private let bytes: [UInt8]
    private var position = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    var atEnd: Bool { position == bytes.count }

    mutating func digit() -> Int64? {
        guard position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) else {
            return nil
        }
        defer { position += 1 }
        return Int64(bytes[position] - UInt8(ascii: "0"))
    }

    /// A run of digits: exactly `digits` of them when given, otherwise 1 to 9.
    mutating func number(digits: Int? = nil) -> Int64? {
        let start = position
        var value: Int64 = 0
        while position - start < (digits ?? 9), let digit = digit() {
            value = value * 10 + digit
        }
        let count = position - start
        if count == 0 || (digits != nil && count != digits) {
            position = start
            return nil
        }
        return value
    }

    mutating func skip(_ character: Character) -> Bool {
        guard let ascii = character.asciiValue, position < bytes.count, bytes[position] == ascii else { return false }
        position += 1
        return true
    }

    mutating func sign() -> Int64? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }
}
