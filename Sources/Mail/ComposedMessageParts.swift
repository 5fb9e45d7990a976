/// The headers and bodies of a message ``MIMEMessage/encoded()`` composed, read back from its bytes.
///
/// The outbox keeps each email once, as its exact bytes; an export that wants the plain text, the
/// html or the header fields (JSON Lines) reads them from there. Only this library's own layout is
/// read — header fields, a blank line, a `multipart/alternative` body with a quoted-printable
/// text/plain part then text/html part — so any other message is refused rather than guessed at.
public struct ComposedMessageParts: Sendable, Equatable {
    /// In message order, unfolded, encoded-words left encoded (as ``RenderedEmail/headers``).
    public var headers: [EmailHeader]
    /// The text/plain body, LF line endings.
    public var text: String
    /// The text/html body, LF line endings.
    public var html: String

    /// - Throws: ``MailError`` (``MailError/Code/unreadableMessage``) for bytes of another layout.
    public init(reading bytes: [UInt8]) throws(MailError) {
        let crlf: [UInt8] = [0x0D, 0x0A]
        guard let headerEnd = Self.find(crlf + crlf, in: bytes, from: 0) else {
            throw Self.unreadable("no blank line after the header fields")
        }
        headers = try Self.fields(bytes[0..<headerEnd + 2])
        guard let contentType = headers.first(where: { $0.name == "Content-Type" })?.value,
            let boundary = Self.boundary(contentType)
        else { throw Self.unreadable("no multipart boundary") }
        let delimiter = Array("--\(boundary)\r\n".utf8)
        let partHead = Array("Content-Transfer-Encoding: quoted-printable\r\n\r\n".utf8)
        let closing = Array("\r\n--\(boundary)".utf8)
        var bodies: [String] = []
        var position = headerEnd + 4
        while bodies.count < 2 {
            guard let start = Self.find(delimiter, in: bytes, from: position),
                let head = Self.find(partHead, in: bytes, from: start),
                let end = Self.find(closing, in: bytes, from: head)
            else { throw Self.unreadable("part \(bodies.count + 1) of 2 not found") }
            bodies.append(QuotedPrintable.decode(bytes[(head + partHead.count)..<end]))
            position = end + 2
        }
        text = bodies[0]
        html = bodies[1]
    }

    /// Header fields unfolded: a line starting with a space or a tab continues the field before.
    private static func fields(_ block: ArraySlice<UInt8>) throws(MailError) -> [EmailHeader] {
        var fields: [EmailHeader] = []
        for line in block.split(separator: 0x0A) {
            let line = line.last == 0x0D ? line.dropLast() : line
            if line.first == 0x20 || line.first == 0x09 {
                guard !fields.isEmpty else { throw unreadable("a folded line before any field") }
                fields[fields.count - 1].value += String(decoding: line, as: UTF8.self)
            } else {
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                    throw unreadable("a header line without a colon")
                }
                let value = line[(colon + 1)...]
                fields.append(
                    EmailHeader(
                        name: String(decoding: line[..<colon], as: UTF8.self),
                        value: String(decoding: value.first == 0x20 ? value.dropFirst() : value, as: UTF8.self)))
            }
        }
        return fields
    }

    private static func boundary(_ contentType: String) -> String? {
        guard let range = contentType.range(of: "boundary=\"") else { return nil }
        let rest = contentType[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= bytes.count else { return nil }
        var index = start
        while index <= bytes.count - needle.count {
            if bytes[index] == first, bytes[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func unreadable(_ reason: String) -> MailError {
        MailError(code: .unreadableMessage, reason: "not a message eticket composed: \(reason)")
    }
}

extension QuotedPrintable {
    /// The inverse of ``encode(_:)``: soft breaks removed, `=XX` decoded, CRLF back to LF.
    static func decode(_ encoded: ArraySlice<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(encoded.count)
        var index = encoded.startIndex
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        while index < encoded.endIndex {
            let byte = encoded[index]
            if byte == UInt8(ascii: "="), index + 2 < encoded.endIndex {
                if encoded[index + 1] == 0x0D, encoded[index + 2] == 0x0A {
                    index += 3
                    continue
                }
                if let high = hexValue(encoded[index + 1]), let low = hexValue(encoded[index + 2]) {
                    output.append(high << 4 | low)
                    index += 3
                    continue
                }
            }
            if byte == 0x0D, index + 1 < encoded.endIndex, encoded[index + 1] == 0x0A {
                output.append(0x0A)
                index += 2
                continue
            }
            output.append(byte)
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}
