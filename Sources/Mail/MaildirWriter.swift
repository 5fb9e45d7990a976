import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes messages into a Maildir: the batch into `tmp/`, syncfs (or fsync each), rename each into
/// `new/`, fsync `new/`.
///
/// A message's file name is `eticket.<id>` (the id made file-safe), the same on every run: a
/// rerun renames over the same name instead of adding a copy. A message a mail reader has
/// already moved to `cur/` (`eticket.<id>:2,…`) is not written again. The bytes are the
/// message's own, CRLF line endings included.
public struct MaildirWriter: OutboxWriter {
    public let path: String

    /// Creates `path`, `path/tmp`, `path/new` and `path/cur` (mode 0700) when missing.
    public init(path: String) throws {
        self.path = path
        for directory in [path, "\(path)/tmp", "\(path)/new", "\(path)/cur"] {
            try DurableFile.makeDirectory(directory)
        }
    }

    /// The file name of a message with outbox id `id`.
    public static func fileName(for id: String) throws -> String {
        "eticket." + (try DurableFile.fileName(for: id))
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        let seen = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(path)/cur")) ?? []).map {
                String($0.prefix(while: { $0 != ":" }))
            })
        // Write every file of the batch, make them all durable with one syncfs, then rename them:
        // an fsync per file costs a journal commit each (a few hundred messages/s here).
        var written: [String] = []
        for message in messages {
            let name = try Self.fileName(for: message.id)
            if seen.contains(name) { continue }
            try DurableFile.writeUnsynced(message.bytes, to: "\(path)/tmp/\(name)")
            written.append(name)
        }
        if !(try DurableFile.syncFileSystem(of: "\(path)/tmp")) {
            for name in written { try DurableFile.sync("\(path)/tmp/\(name)") }
        }
        for name in written { try DurableFile.renameIntoPlace("\(path)/tmp/\(name)", to: "\(path)/new/\(name)") }
        try DurableFile.syncDirectory("\(path)/new")
    }
}
