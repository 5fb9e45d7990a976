import Foundation

/// Times as a structure's administrator reads them: in the structure's time zone, with the offset
/// (`2026-08-21 19:04 +02:00`), so that no one has to convert from UTC or guess which zone it is.
struct StructureTime {
    private let formatter = DateFormatter()

    /// - Parameter timeZone: an IANA identifier (`Europe/Paris`); UTC when the identifier is unknown,
    ///   which the offset then shows.
    init(_ timeZone: String) {
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm xxx"
    }

    func string(_ date: Date?) -> String {
        date.map { formatter.string(from: $0) } ?? "-"
    }

    /// The calendar day of `date` in the structure's time zone (`2026-08-21`).
    func day(_ date: Date) -> String {
        String(formatter.string(from: date).prefix(10))
    }
}

/// `text` broken into lines of at most `width` characters at spaces, each line after `indent`.
func wrapped(_ text: String, indent: String, width: Int = 80) -> [String] {
    var lines: [String] = []
    var line = ""
    for word in text.split(separator: " ") {
        if !line.isEmpty, indent.count + line.count + 1 + word.count > width {
            lines.append(indent + line)
            line = ""
        }
        line += (line.isEmpty ? "" : " ") + word
    }
    if !line.isEmpty { lines.append(indent + line) }
    return lines
}
