import Foundation

/// Appends messages to one JSON Lines file: one object per line, keys sorted:
/// `created_at`, `from`, `headers` (a list of `{"name", "value"}` in message order), `html`, `id`
/// (the outbox id), `message_id`, `subject`, `text`, `to`.
///
/// A message whose `message_id` is already in the file is not appended again, and an append a crash
/// cut short is removed before the next one (see ``OutboxWriter``): a rerun never duplicates. The
/// Message-ID, random per message, is the key, not the outbox `id`: two databases appending to one
/// file number their rows alike.
public struct JSONLWriter: OutboxWriter {
    public let path: String
    private let log: AppendLog

    /// One line of the file.
    struct Record: Codable {
        var id: String
        var messageID: String
        var from: String
        var to: String
        var subject: String
        var text: String
        var html: String
        var headers: [EmailHeader]
        var createdAt: String

        enum CodingKeys: String, CodingKey {
            case id, from, to, subject, text, html, headers
            case messageID = "message_id"
            case createdAt = "created_at"
        }
    }

    /// Prepares the JSON Lines file `path`, creating its directory (0700) when missing.
    public init(path: String) throws {
        self.path = path
        self.log = try AppendLog(path: path)
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let timestamp = ISO8601DateFormatter()
        timestamp.timeZone = TimeZone(identifier: "UTC")
        var lines: [(messageID: String, bytes: [UInt8])] = []
        for message in messages {
            let record = Record(
                id: message.id, messageID: message.messageID, from: message.from, to: message.to,
                subject: message.subject, text: message.text, html: message.html, headers: message.headers,
                createdAt: timestamp.string(from: message.createdAt))
            lines.append((message.messageID, Array(try encoder.encode(record)) + [UInt8(ascii: "\n")]))
        }
        try log.append { existing throws(MailError) in
            var present = Self.messageIDs(in: existing)
            var output: [UInt8] = []
            for line in lines where !present.contains(line.messageID) {
                present.insert(line.messageID)
                output += line.bytes
            }
            return output
        }
    }

    /// The Message-IDs of the records in a JSON Lines file.
    static func messageIDs(in file: [UInt8]) -> Set<String> {
        var ids: Set<String> = []
        for line in file.split(separator: UInt8(ascii: "\n")) {
            if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                let id = object["message_id"] as? String
            {
                ids.insert(id)
            }
        }
        return ids
    }
}
