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
    static func entry(for message: OutboxMessage) -> [UInt8] {
        let sender = message.from.isEmpty ? "MAILER-DAEMON" : message.from
        var output = Array("From \(sender) \(RFC5322Date.asctime(message.createdAt))\n".utf8)
        var lines = String(decoding: message.bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines {
            if line.drop(while: { $0 == ">" }).hasPrefix("From ") { output.append(UInt8(ascii: ">")) }
            output += Array(line.utf8)
            output.append(UInt8(ascii: "\n"))
        }
        output.append(UInt8(ascii: "\n"))
        return output
    }

    /// The `Message-ID`s (without brackets) of the messages in an mbox.
    static func messageIDs(in mbox: [UInt8]) -> Set<String> {
        var ids: Set<String> = []
        var inHeaders = false
        for line in String(decoding: mbox, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("From ") {
                inHeaders = true
            } else if line.isEmpty || line == "\r" {
                inHeaders = false
            } else if inHeaders, line.lowercased().hasPrefix("message-id:") {
                var id = line.dropFirst("message-id:".count).trimmingCharacters(in: .whitespaces)
                if id.hasPrefix("<"), id.hasSuffix(">") { id = String(id.dropFirst().dropLast()) }
                ids.insert(id)
            }
        }
        return ids
    }
}
