import Dossiers
import Foundation

extension MIMEMessage {
    /// The header fields in message order, unfolded, and the exact message bytes (CRLF).
    /// - Throws: ``MailError`` for an address or a `Message-ID` that cannot go in a header.
    public func encoded() throws(MailError) -> (headers: [EmailHeader], bytes: [UInt8]) {
        try Address.validate(from.address)
        try Address.validate(to.address)
        if let replyTo { try Address.validate(replyTo.address) }
        let id = try Self.normalizedMessageID(messageID)
        let boundary = "=_eticket_" + Self.fingerprint(id + "\u{0}" + text + "\u{0}" + html)

        var fields: [HeaderEncoding.Field] = [HeaderEncoding.mailbox(name: "From", mailbox: from)]
        if let replyTo { fields.append(HeaderEncoding.mailbox(name: "Reply-To", mailbox: replyTo)) }
        fields.append(HeaderEncoding.mailbox(name: "To", mailbox: to))
        fields.append(HeaderEncoding.unstructured(name: "Subject", value: subject))
        fields.append(.init(name: "Date", lines: [" " + RFC5322Date.format(date, in: timeZone)]))
        fields.append(.init(name: "Message-ID", lines: [" <\(id)>"]))
        fields.append(.init(name: "MIME-Version", lines: [" 1.0"]))
        fields.append(
            .init(name: "Content-Type", lines: [" multipart/alternative;", " boundary=\"\(boundary)\""]))
        if let language { fields.append(.init(name: "Content-Language", lines: [" \(language.rawValue)"])) }
        fields.append(.init(name: "Auto-Submitted", lines: [" auto-generated"]))

        var message = ""
        for field in fields { message += field.folded + "\r\n" }
        message += "\r\n"
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            message += "--\(boundary)\r\n"
            message += "Content-Type: \(type); charset=UTF-8\r\n"
            message += "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            // The CRLF before a boundary belongs to the boundary: add one so the body keeps its last line break.
            message += QuotedPrintable.encode(body) + "\r\n"
        }
        message += "--\(boundary)--\r\n"
        let headers = fields.map { EmailHeader(name: $0.name, value: String($0.unfolded.dropFirst())) }
        return (headers, Array(message.utf8))
    }

    /// Strips the angle brackets and checks `left@right` in printable ASCII.
    static func normalizedMessageID(_ raw: String) throws(MailError) -> String {
        var id = Substring(raw)
        if id.hasPrefix("<"), id.hasSuffix(">") { id = id.dropFirst().dropLast() }
        let parts = id.split(separator: "@", omittingEmptySubsequences: false)
        let valid =
            parts.count == 2 && parts.allSatisfy { !$0.isEmpty } && id.utf8.count <= 250
            && id.utf8.allSatisfy { (0x21...0x7E).contains($0) && !"<>\"\\()[],;:".utf8.contains($0) }
        guard valid else {
            throw MailError(code: .invalidMessageID, reason: "not a usable Message-ID: \(raw.debugDescription)")
        }
        return String(id)
    }

    /// A stable 64-bit FNV-1a digest in hex: the same message always gets the same boundary.
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Addresses that can stand in a header as they are: ASCII `local@domain`, no spaces or specials.
enum Address {
    static func validate(_ address: String) throws(MailError) {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        let localAllowed = "!#$%&'*+-/=?^_`{|}~.".utf8
        func isAlnum(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        let valid =
            parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty && address.utf8.count <= 254
            && parts[0].utf8.allSatisfy { isAlnum($0) || localAllowed.contains($0) }
            && parts[1].utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
        guard valid else {
            throw MailError(
                code: .invalidAddress,
                reason: "not a usable email address (ASCII local@domain expected): \(address.debugDescription)")
        }
    }
}

/// Quoted-printable (RFC 2045 §6.7) for UTF-8 text bodies.
enum QuotedPrintable {
    /// Encodes `text` with CRLF line breaks and lines of at most 76 characters (soft breaks `=`).
    ///
    /// Trailing spaces are encoded, and a line starting `From ` or `.` has its first character
    /// encoded, so mbox and SMTP transports never alter the message.
    static func encode(_ text: String) -> String {
        // Byte by byte, into one buffer: the rendering's hottest loop (a String per byte and
        // Foundation's replacingOccurrences cost a fifth of a worker's time).
        let input = Array(text.utf8)
        var normalized: [UInt8] = []
        normalized.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == 0x0D {
                normalized.append(0x0A)
                if index + 1 < input.count, input[index + 1] == 0x0A { index += 1 }
            } else {
                normalized.append(byte)
            }
            index += 1
        }
        let digits: [UInt8] = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(normalized.count + normalized.count / 4 + 16)
        var lineStart = 0
        while lineStart <= normalized.count {
            let lineEnd = normalized[lineStart...].firstIndex(of: 0x0A) ?? normalized.count
            let count = lineEnd - lineStart
            let startsWithFrom = count >= 5 && normalized[lineStart..<lineStart + 5].elementsEqual("From ".utf8)
            var length = 0
            for position in lineStart..<lineEnd {
                let byte = normalized[position]
                let offset = position - lineStart
                let isLast = offset == count - 1
                let literal: Bool
                if offset == 0, startsWithFrom || byte == UInt8(ascii: ".") {
                    literal = false
                } else if (33...126).contains(byte), byte != UInt8(ascii: "=") {
                    literal = true
                } else {
                    literal = (byte == 0x20 || byte == 0x09) && !isLast
                }
                let width = literal ? 1 : 3
                // Keep room for the soft break's "=" unless this is the line's last token.
                if length + width > (isLast ? 76 : 75) {
                    output.append(contentsOf: [UInt8(ascii: "="), 0x0D, 0x0A])
                    length = 0
                }
                if literal {
                    output.append(byte)
                } else {
                    output.append(contentsOf: [UInt8(ascii: "="), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
                }
                length += width
            }
            if lineEnd < normalized.count { output.append(contentsOf: [0x0D, 0x0A]) }
            lineStart = lineEnd + 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// Dates as RFC 5322 writes them, with English names and a numeric zone, never locale-dependent.
enum RFC5322Date {
    static let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    struct Civil {
        var date: CalendarDateParts
        var hour: Int
        var minute: Int
        var second: Int
    }

    struct CalendarDateParts {
        var year: Int
        var month: Int
        var day: Int
        var weekday: Int
    }

    static func civil(_ date: Date, offset: Int) -> Civil {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + offset
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let calendar = CalendarDate(daysSinceEpoch: days)
        let day = CalendarDateParts(
            year: calendar.year, month: calendar.month, day: calendar.day, weekday: calendar.isoWeekday)
        return Civil(date: day, hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60)
    }

    /// `Sat, 28 Nov 2026 05:04:11 +0100`.
    static func format(_ date: Date, in timeZone: TimeZone) -> String {
        let offset = timeZone.secondsFromGMT(for: date)
        let time = civil(date, offset: offset)
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        return "\(days[time.date.weekday - 1]), \(time.date.day) \(months[time.date.month - 1]) \(time.date.year) "
            + "\(pad(time.hour)):\(pad(time.minute)):\(pad(time.second)) \(sign)\(pad(minutes / 60))\(pad(minutes % 60))"
    }

    /// `Sat Nov 28 04:04:11 2026` in UTC: the date of an mbox `From ` line (asctime form).
    static func asctime(_ date: Date) -> String {
        let time = civil(date, offset: 0)
        let day = time.date.day < 10 ? " \(time.date.day)" : "\(time.date.day)"
        return "\(days[time.date.weekday - 1]) \(months[time.date.month - 1]) \(day) "
            + "\(pad(time.hour)):\(pad(time.minute)):\(pad(time.second)) \(time.date.year)"
    }

    static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
