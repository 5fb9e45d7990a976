import Dossiers
import Foundation

extension MIMEMessage {
    /// The header fields in message order, unfolded, and the exact message bytes (CRLF).
    /// - Throws: ``MailError`` for an address or a `Message-ID` that cannot go in a header.
    public func encoded() throws(MailError) -> (headers: [EmailHeader], bytes: [UInt8]) {
        let message = try Self.compose(
            from: from, replyTo: replyTo, to: to.address, subject: Array(subject.utf8), date: date,
            timeZone: timeZone, messageID: messageID, language: language, text: Array(text.utf8),
            html: Array(html.utf8)
        ) { UTF8Text.appendSingleLine(to.name, to: &$0) }
        return (message.headers, message.bytes)
    }

    /// Validates the addresses and the `Message-ID`, then writes the message in one buffer.
    /// - Returns: the fields, the message and the `Message-ID` without angle brackets.
    /// - Parameters:
    ///   - subject: UTF-8, made one line here.
    ///   - text: the text/plain body, UTF-8 with LF or CRLF line endings.
    ///   - html: the text/html body, likewise.
    ///   - toName: appends the recipient's display name, made one line (it is written to the
    ///     buffer it is given, so a name in two parts needs no `String` of its own).
    static func compose(
        from: Mailbox, replyTo: Mailbox?, to: String, subject: [UInt8], date: Date, timeZone: TimeZone,
        messageID: String, language: Language?, text: [UInt8], html: [UInt8],
        toName: (inout [UInt8]) -> Void
    ) throws(MailError) -> (headers: [EmailHeader], bytes: [UInt8], messageID: String) {
        try Address.validate(from.address)
        try Address.validate(to)
        if let replyTo { try Address.validate(replyTo.address) }
        let id = try normalizedMessageID(messageID)
        let boundary = Boundary(id: id, text: text, html: html)

        var writer = HeaderWriter(capacity: 1024 + (text.count + html.count) * 3 / 2)
        writer.value.removeAll(keepingCapacity: true)
        UTF8Text.appendSingleLine(from.name, to: &writer.value)
        writer.mailbox("From", address: from.address)
        if let replyTo {
            writer.value.removeAll(keepingCapacity: true)
            UTF8Text.appendSingleLine(replyTo.name, to: &writer.value)
            writer.mailbox("Reply-To", address: replyTo.address)
        }
        writer.value.removeAll(keepingCapacity: true)
        toName(&writer.value)
        writer.mailbox("To", address: to)
        writer.value.removeAll(keepingCapacity: true)
        writer.value.append(contentsOf: subject)
        writer.unstructured("Subject")
        writer.begin("Date")
        writer.bytes.append(0x20)
        RFC5322Date.append(date, in: timeZone, to: &writer.bytes)
        writer.end()
        writer.begin("Message-ID")
        writer.bytes.append(contentsOf: " <".utf8)
        writer.bytes.append(contentsOf: id.utf8)
        writer.bytes.append(UInt8(ascii: ">"))
        writer.end()
        writer.field("MIME-Version", " 1.0")
        writer.begin("Content-Type")
        UTF8Text.appendStatic(" multipart/alternative;\r\n boundary=\"", to: &writer.bytes)
        boundary.append(to: &writer.bytes)
        writer.bytes.append(UInt8(ascii: "\""))
        writer.end()
        switch language {
        case .fr?: writer.field("Content-Language", " fr")
        case .en?: writer.field("Content-Language", " en")
        case nil: break
        }
        writer.field("Auto-Submitted", " auto-generated")

        writer.bytes.append(contentsOf: [0x0D, 0x0A])
        appendPart("text/plain", text, boundary, to: &writer.bytes)
        appendPart("text/html", html, boundary, to: &writer.bytes)
        boundary.appendDelimiter(to: &writer.bytes, closing: true)
        return (writer.headers, writer.bytes, id)
    }

    private static func appendPart(
        _ type: StaticString, _ body: [UInt8], _ boundary: Boundary, to output: inout [UInt8]
    ) {
        boundary.appendDelimiter(to: &output)
        UTF8Text.appendStatic("Content-Type: ", to: &output)
        UTF8Text.appendStatic(type, to: &output)
        UTF8Text.appendStatic("; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", to: &output)
        // The CRLF before a boundary belongs to the boundary: add one so the body keeps its last line break.
        QuotedPrintable.encode(body, to: &output)
        output.append(contentsOf: [0x0D, 0x0A])
    }

    /// Printable ASCII but the specials `<>"\()[],;:`.
    private static func isMessageIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: ":"):
            return false
        default:
            return (0x21...0x7E).contains(byte)
        }
    }

    /// Strips the angle brackets and checks `left@right` in printable ASCII.
    static func normalizedMessageID(_ raw: String) throws(MailError) -> String {
        var id = Substring(raw)
        if id.hasPrefix("<"), id.hasSuffix(">") { id = id.dropFirst().dropLast() }
        let bytes = id.utf8
        let ats = bytes.count(where: { $0 == UInt8(ascii: "@") })
        let valid =
            ats == 1 && bytes.first != UInt8(ascii: "@") && bytes.last != UInt8(ascii: "@") && bytes.count <= 250
            && bytes.allSatisfy(isMessageIDByte)
        guard valid else {
            throw MailError(code: .invalidMessageID, reason: "not a usable Message-ID: \(raw.debugDescription)")
        }
        return id.utf8.count == raw.utf8.count ? raw : String(id)
    }
}

/// The MIME boundary: `=_eticket_` and a stable 64-bit FNV-1a digest of the message in hex, so
/// the same message always gets the same boundary.
struct Boundary {
    let hash: UInt64

    init(id: String, text: [UInt8], html: [UInt8]) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        for byte in id.utf8 { mix(byte) }
        mix(0)
        for byte in text { mix(byte) }
        mix(0)
        for byte in html { mix(byte) }
        self.hash = hash
    }

    func append(to output: inout [UInt8]) {
        UTF8Text.appendStatic("=_eticket_", to: &output)
        for shift in stride(from: 60, through: 0, by: -4) {
            let nibble = UInt8(truncatingIfNeeded: hash >> UInt64(shift)) & 0x0F
            output.append(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
        }
    }

    /// `--boundary` (and `--` when `closing`), then CRLF.
    func appendDelimiter(to output: inout [UInt8], closing: Bool = false) {
        output.append(contentsOf: [UInt8(ascii: "-"), UInt8(ascii: "-")])
        append(to: &output)
        if closing { output.append(contentsOf: [UInt8(ascii: "-"), UInt8(ascii: "-")]) }
        output.append(contentsOf: [0x0D, 0x0A])
    }
}

/// Addresses that can stand in a header as they are: ``EmailAddress``'s rule, the import's too.
enum Address {
    /// - Throws: ``MailError`` `.invalidAddress`, whose text never quotes the address: it is a
    ///   family's personal data, and an error may be logged.
    static func validate(_ address: String) throws(MailError) {
        guard EmailAddress.isDeliverable(address) else {
            throw MailError(code: .invalidAddress, reason: "not a usable email address (ASCII local@domain expected)")
        }
    }
}

/// Quoted-printable (RFC 2045 §6.7) for UTF-8 text bodies.
enum QuotedPrintable {
    /// Appends `text` encoded, with CRLF line breaks (for CR LF, CR or LF) and lines of at most
    /// 76 characters (soft breaks `=`).
    ///
    /// Trailing spaces are encoded, and a line starting `From ` or `.` has its first character
    /// encoded, so mbox and SMTP transports never alter the message.
    static func encode(_ text: [UInt8], to output: inout [UInt8]) {
        // Written through a pointer into room made first: each byte takes at most 3 characters,
        // a soft break 3 more per 73, a line break 2 for 1.
        // (The room as an array, which is zeroed and copied at once: `repeatElement` was appended
        // byte by byte through unspecialized generics, a third of rendering an email.)
        let start = output.count
        output.append(contentsOf: [UInt8](repeating: 0, count: 4 * text.count + 16))
        let end = text.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { buffer in
                // Valid: `buffer` holds at least `start` bytes and the room appended.
                encode(input, to: buffer.baseAddress.unsafelyUnwrapped, at: start)
            }
        }
        output.removeSubrange(end...)
    }

    /// Writes `input` encoded from `output + position`; returns the position after it.
    private static func encode(
        _ input: UnsafeBufferPointer<UInt8>, to output: UnsafeMutablePointer<UInt8>, at position: Int
    ) -> Int {
        var position = position
        var lineStart = 0
        while lineStart <= input.count {
            var lineEnd = lineStart
            while lineEnd < input.count, input[lineEnd] != 0x0A, input[lineEnd] != 0x0D { lineEnd &+= 1 }
            position = encodeLine(UnsafeBufferPointer(rebasing: input[lineStart..<lineEnd]), to: output, at: position)
            guard lineEnd < input.count else { break }
            output[position] = 0x0D
            output[position &+ 1] = 0x0A
            position &+= 2
            let crlf = input[lineEnd] == 0x0D && lineEnd + 1 < input.count && input[lineEnd + 1] == 0x0A
            lineStart = lineEnd &+ (crlf ? 2 : 1)
        }
        return position
    }

    /// One line, without its break. The first character (`From `, `.`) and the last (a space or
    /// tab) have rules of their own; in between, a character is kept or written `=XX`.
    private static func encodeLine(
        _ line: UnsafeBufferPointer<UInt8>, to output: UnsafeMutablePointer<UInt8>, at position: Int
    ) -> Int {
        let count = line.count
        guard count > 0 else { return position }
        var position = position
        var length = 0
        let first = line[0]
        let startsWithFrom = count >= 5 && line[0..<5].elementsEqual("From ".utf8)
        let isLast = count == 1
        // A lone last character may be written as it is up to column 76; others up to 75.
        let firstLiteral =
            !startsWithFrom && first != UInt8(ascii: ".")
            && (isLast ? isLiteralLast(first) : isLiteralInside(first))
        put(first, literal: firstLiteral, limit: isLast ? 76 : 75, to: output, at: &position, length: &length)
        guard count > 1 else { return position }
        var offset = 1
        while offset < count &- 1 {
            // Eight characters kept as they are, on the line as it is: copied at once.
            if offset &+ 8 <= count &- 1, length &+ 8 <= 75 {
                let chunk = UnsafeRawPointer(line.baseAddress.unsafelyUnwrapped + offset).loadUnaligned(as: UInt64.self)
                if areLiteralInside(chunk) {
                    UnsafeMutableRawPointer(output + position).storeBytes(of: chunk, toByteOffset: 0, as: UInt64.self)
                    position &+= 8
                    length &+= 8
                    offset &+= 8
                    continue
                }
            }
            let byte = line[offset]
            put(byte, literal: isLiteralInside(byte), limit: 75, to: output, at: &position, length: &length)
            offset &+= 1
        }
        let last = line[count &- 1]
        put(last, literal: isLiteralLast(last), limit: 76, to: output, at: &position, length: &length)
        return position
    }

    /// Writes a character, after a soft break if it would pass `limit` (75 keeps room for the
    /// soft break's `=`; the line's last character needs none).
    @inline(__always)
    private static func put(
        _ byte: UInt8, literal: Bool, limit: Int, to output: UnsafeMutablePointer<UInt8>, at position: inout Int,
        length: inout Int
    ) {
        let width = literal ? 1 : 3
        if length &+ width > limit {
            output[position] = UInt8(ascii: "=")
            output[position &+ 1] = 0x0D
            output[position &+ 2] = 0x0A
            position &+= 3
            length = 0
        }
        if literal {
            output[position] = byte
            position &+= 1
        } else {
            output[position] = UInt8(ascii: "=")
            output[position &+ 1] = Hex.upper(byte >> 4)
            output[position &+ 2] = Hex.upper(byte & 0x0F)
            position &+= 3
        }
        length &+= width
    }

    /// Printable ASCII but `=`: kept as it is at the end of a line, where a space or tab is not.
    @inline(__always)
    private static func isLiteralLast(_ byte: UInt8) -> Bool {
        (33...126).contains(byte) && byte != UInt8(ascii: "=")
    }

    /// ``isLiteralInside(_:)`` for eight bytes at once (and without a tab): none below 0x20, none
    /// at or above 0x7F, none `=`. The usual bit tricks: `(x - 0x01…) & ~x & 0x80…` is not zero
    /// exactly when a byte of `x` is zero, and with 0x20… when a byte is below 0x20 (bytes below
    /// 0x80, which the first test makes sure of).
    @inline(__always)
    private static func areLiteralInside(_ chunk: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ value: UInt64) -> Bool { (value &- ones) & ~value & highBits != 0 }
        return chunk & highBits == 0 && (chunk &- ones &* 0x20) & ~chunk & highBits == 0
            && !hasZero(chunk ^ (ones &* 0x7F)) && !hasZero(chunk ^ (ones &* 0x3D))
    }

    /// Printable ASCII but `=`, space and tab: kept as they are inside a line.
    @inline(__always)
    private static func isLiteralInside(_ byte: UInt8) -> Bool {
        (byte &- 32) < 95 ? byte != UInt8(ascii: "=") : byte == 0x09
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

    /// Appends `Sat, 28 Nov 2026 05:04:11 +0100`.
    static func append(_ date: Date, in timeZone: TimeZone, to output: inout [UInt8]) {
        let offset = timeZone.secondsFromGMT(for: date)
        let time = civil(date, offset: offset)
        output.append(contentsOf: days[time.date.weekday - 1].utf8)
        output.append(contentsOf: ", ".utf8)
        appendDecimal(time.date.day, to: &output)
        output.append(0x20)
        output.append(contentsOf: months[time.date.month - 1].utf8)
        output.append(0x20)
        appendDecimal(time.date.year, to: &output)
        output.append(0x20)
        appendTwoDigits(time.hour, to: &output)
        output.append(UInt8(ascii: ":"))
        appendTwoDigits(time.minute, to: &output)
        output.append(UInt8(ascii: ":"))
        appendTwoDigits(time.second, to: &output)
        output.append(0x20)
        output.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let minutes = abs(offset) / 60
        appendTwoDigits(minutes / 60, to: &output)
        appendTwoDigits(minutes % 60, to: &output)
    }

    /// Like ``pad(_:)``: at least two digits.
    static func appendTwoDigits(_ value: Int, to output: inout [UInt8]) {
        if value < 10 { output.append(UInt8(ascii: "0")) }
        appendDecimal(value, to: &output)
    }

    /// Like `"\(value)"`: a minus sign when negative, then the digits.
    static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits:
            (
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
            ) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = 0x30 + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { output.append(buffer[index]) }
        }
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
