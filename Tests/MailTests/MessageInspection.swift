import Foundation
import TestSupport
import Testing

/// Reading a produced message back in the tests, without the code under test.
enum MessageInspection {
    /// The header section's physical lines (before the first empty line).
    static func headerLines(_ bytes: [UInt8]) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self)
        let header = text.components(separatedBy: "\r\n\r\n").first ?? ""
        return header.components(separatedBy: "\r\n")
    }

    /// Header fields unfolded: (name, body without the leading space).
    static func fields(_ bytes: [UInt8]) -> [(name: String, value: String)] {
        var fields: [(String, String)] = []
        for line in headerLines(bytes) {
            if line.hasPrefix(" ") || line.hasPrefix("\t"), let last = fields.popLast() {
                fields.append((last.0, last.1 + line))
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((String(line[..<colon]), String(line[line.index(after: colon)...].dropFirst())))
            }
        }
        return fields
    }

    static func field(_ name: String, in bytes: [UInt8]) -> String? {
        fields(bytes).first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Every RFC 2047 encoded-word in `text`: the whole word, and its bytes decoded on their own.
    static func encodedWords(_ text: String) -> [(word: String, decoded: [UInt8])] {
        var result: [(String, [UInt8])] = []
        var rest = Substring(text)
        while let start = rest.range(of: "=?UTF-8?") {
            let afterPrefix = rest[start.upperBound...]
            guard afterPrefix.count > 2 else { break }
            let encoding = afterPrefix.first
            let payloadStart = afterPrefix.index(afterPrefix.startIndex, offsetBy: 2)
            guard let end = afterPrefix[payloadStart...].range(of: "?=") else { break }
            let payload = String(afterPrefix[payloadStart..<end.lowerBound])
            let word = String(rest[start.lowerBound..<end.upperBound])
            let decoded: [UInt8] = encoding == "B" ? Array(Data(base64Encoded: payload) ?? Data()) : decodeQ(payload)
            result.append((word, decoded))
            rest = rest[end.upperBound...]
        }
        return result
    }

    static func decodeQ(_ payload: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = Array(payload.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "_") {
                bytes.append(0x20)
            } else if byte == UInt8(ascii: "="), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return bytes
    }

    /// The decoded text of a header made only of encoded-words (adjacent words join without space).
    static func decodeEncodedWords(_ value: String) -> String? {
        let words = encodedWords(value)
        guard !words.isEmpty else { return nil }
        return String(validating: words.flatMap(\.decoded), as: UTF8.self)
    }

    /// Decodes an address header's phrase by RFC 5322 and RFC 2047: quoted-strings unquoted,
    /// encoded-words decoded, whitespace between adjacent encoded-words dropped.
    static func decodePhrase(_ value: String) -> String {
        var output = ""
        var pendingSpace = ""
        var lastWasEncoded = false
        var index = value.startIndex
        while index < value.endIndex {
            let character = value[index]
            if character == " " {
                pendingSpace += " "
                index = value.index(after: index)
            } else if character == "\"" {
                output += pendingSpace
                pendingSpace = ""
                index = value.index(after: index)
                while index < value.endIndex, value[index] != "\"" {
                    if value[index] == "\\" { index = value.index(after: index) }
                    if index < value.endIndex { output.append(value[index]) }
                    index = value.index(after: index)
                }
                index = index < value.endIndex ? value.index(after: index) : index
                lastWasEncoded = false
            } else {
                let end = value[index...].firstIndex(of: " ") ?? value.endIndex
                let token = String(value[index..<end])
                if token.hasPrefix("=?UTF-8?"), let decoded = decodeEncodedWords(token) {
                    if !lastWasEncoded { output += pendingSpace }
                    output += decoded
                    lastWasEncoded = true
                } else {
                    output += pendingSpace + token
                    lastWasEncoded = false
                }
                pendingSpace = ""
                index = end
            }
        }
        return output
    }

    /// Whether `python3` with its `email` package can run here.
    static let pythonAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import email.parser, email.policy"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }()

    /// Parses `bytes` with Python's `email` package (policy.default) and returns what it saw.
    static func parseWithPython(_ bytes: [UInt8]) throws -> [String: Any] {
        let script = """
            import sys, json
            from email import policy
            from email.parser import BytesParser
            with open(sys.argv[1], 'rb') as f:
                m = BytesParser(policy=policy.default).parse(f)
            defects = [repr(d) for d in m.defects]
            for name, value in m.items():
                defects += ['%s: %r' % (name, d) for d in getattr(value, 'defects', ())]
            parts = []
            for p in m.iter_parts():
                defects += [repr(d) for d in p.defects]
                parts.append({'type': p.get_content_type(), 'charset': p.get_content_charset(),
                              'encoding': p['Content-Transfer-Encoding'], 'body': p.get_content()})
            frm = m['From'].addresses[0]
            to = m['To'].addresses[0]
            print(json.dumps({'defects': defects, 'from_name': frm.display_name, 'from_addr': frm.addr_spec,
                              'to_name': to.display_name, 'to_addr': to.addr_spec, 'subject': str(m['Subject']),
                              'type': m.get_content_type(), 'parts': parts, 'names': list(m.keys()),
                              'message_id': str(m['Message-ID']), 'date': str(m['Date'])}))
            """
        let path = TestFiles.directory.path + "/eticket-mail-\(UUID().uuidString).eml"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
