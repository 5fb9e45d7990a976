import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one `<id>.eml` file per message into a directory: a hidden temporary name, fsync,
/// rename, then one fsync of the directory per batch. A rerun replaces the same file.
public struct EMLWriter: OutboxWriter {
    public let path: String

    /// Creates the directory (mode 0700) when missing, and removes temporary files a crash left.
    public init(path: String) throws {
        self.path = path
        try DurableFile.makeDirectory(path)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        where name.hasPrefix(".") && name.hasSuffix(".eml.tmp") {
            unlink("\(path)/\(name)")
        }
    }

    /// The file name of a message with outbox id `id`.
    public static func fileName(for id: String) throws -> String {
        (try DurableFile.fileName(for: id)) + ".eml"
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        for message in messages {
            let name = try Self.fileName(for: message.id)
            try DurableFile.writeThenRename(message.bytes, temporary: "\(path)/.\(name).tmp", path: "\(path)/\(name)")
        }
        try DurableFile.syncDirectory(path)
    }
}
