import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one `<id>.eml` file per message into a directory: each under a hidden temporary name,
/// one syncfs for the batch (an fsync per file where syncfs is missing), each renamed to its
/// name, then one fsync of the directory. So a name only ever holds a complete, durable message,
/// and the batch is durable before ``write(_:)`` returns and the exporter marks the rows. A rerun
/// replaces the same file.
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
        var names: [String] = []
        names.reserveCapacity(messages.count)
        for message in messages {
            let name = try Self.fileName(for: message.id)
            try DurableFile.create(message.bytes, at: "\(path)/.\(name).tmp")
            names.append(name)
        }
        if !(try DurableFile.syncFileSystem(of: path)) {
            for name in names { try DurableFile.sync("\(path)/.\(name).tmp") }
        }
        for name in names { try DurableFile.renameIntoPlace("\(path)/.\(name).tmp", to: "\(path)/\(name)") }
        try DurableFile.syncDirectory(path)
    }
}
