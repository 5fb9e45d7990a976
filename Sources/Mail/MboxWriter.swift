import Foundation

/// Appends messages to one mbox file in the mboxrd flavour.
///
/// Each message starts with a `From <sender> <asctime UTC>` line; in its lines, any line matching
/// `^>*From ` gets one more `>` (reading strips one). Line endings are LF, as mbox readers expect.
/// A message whose `Message-ID` is already in the file is not appended again, and an append a crash
/// cut short is removed before the next one (see ``OutboxWriter``): a rerun never duplicates.
public struct MboxWriter: OutboxWriter {
    public let path: String
    private let log: AppendLog

    /// Prepares the mbox file `path`, creating its directory (0700) when missing.
    public init(path: String) throws {
        self.path = path
        self.log = try AppendLog(path: path)
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        try log.append { existing throws(MailError) in
            var present = Self.messageIDs(in: existing)
            var output: [UInt8] = []
            for message in messages where !present.contains(message.messageID) {
                present.insert(message.messageID)
                output += Self.entry(for: message)
            }
            return output
        }
    }

    /// One mbox entry: the `From ` line, the quoted message with LF endings, a blank line.
    ///
    /// Works on the bytes (CRLF becomes LF, a lone CR is kept): `From ` and the line ends are
    /// ASCII, so no line needs decoding (a String per line was half of an mbox export's time).
    static func entry(for message: OutboxMessage) -> [UInt8] {
        let sender = message.from.isEmpty ? "MAILER-DAEMON" : message.from
        var output = Array("From \(sender) \(RFC5322Date.asctime(message.createdAt))\n".utf8)
        output.reserveCapacity(output.count + message.bytes.count + 64)
        let bytes = message.bytes
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != lineFeed { end += 1 }
            var lineEnd = end
            if end < bytes.count, lineEnd > start, bytes[lineEnd - 1] == carriageReturn { lineEnd -= 1 }
            if isFromLine(bytes[start..<lineEnd], quoted: true) { output.append(UInt8(ascii: ">")) }
            output.append(contentsOf: bytes[start..<lineEnd])
            output.append(lineFeed)
            start = end + 1
        }
        output.append(lineFeed)
        return output
    }

    /// The `Message-ID`s (without brackets) of the messages in an mbox.
    static func messageIDs(in mbox: [UInt8]) -> Set<String> {
        var ids: Set<String> = []
        var inHeaders = false
        var start = 0
        while start <= mbox.count {
            var end = start
            while end < mbox.count, mbox[end] != lineFeed { end += 1 }
            let line = mbox[start..<end]
            if isFromLine(line, quoted: false) {
                inHeaders = true
            } else if line.isEmpty || (line.count == 1 && line.first == carriageReturn) {
                inHeaders = false
            } else if inHeaders, hasPrefixIgnoringCase(line, messageIDField) {
                var value = line.dropFirst(messageIDField.count)
                while let first = value.first, first == space || first == tab { value = value.dropFirst() }
                while let last = value.last, last == space || last == tab { value = value.dropLast() }
                if value.first == UInt8(ascii: "<"), value.last == UInt8(ascii: ">"), value.count >= 2 {
                    value = value.dropFirst().dropLast()
                }
                ids.insert(String(decoding: value, as: UTF8.self))
            }
            start = end + 1
        }
        return ids
    }

    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let from = Array("From ".utf8)
    private static let messageIDField = Array("message-id:".utf8)

    /// Whether a line starts with `From ` (after any number of `>` when `quoted`).
    private static func isFromLine(_ line: ArraySlice<UInt8>, quoted: Bool) -> Bool {
        var rest = line
        if quoted { rest = rest.drop(while: { $0 == UInt8(ascii: ">") }) }
        return rest.starts(with: from)
    }

    private static func hasPrefixIgnoringCase(_ line: ArraySlice<UInt8>, _ lowercase: [UInt8]) -> Bool {
        guard line.count >= lowercase.count else { return false }
        for (byte, expected) in zip(line, lowercase) {
            let lowered = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
            if lowered != expected { return false }
        }
        return true
    }
}
