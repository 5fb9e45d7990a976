import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes one `<Message-ID>.eml` file per message into a directory (the Message-ID made
/// file-safe: random per message, so two databases exporting into one directory never take the
/// same name): each under a hidden temporary name,
/// one syncfs for the batch (an fsync per file where syncfs is missing), each renamed to its
/// name, then one fsync of the directory. So a name only ever holds a complete, durable message,
/// and the batch is durable before ``write(_:)`` returns and the exporter marks the rows. A rerun
/// replaces the same file.
public struct EMLWriter: OutboxWriter {
    public let path: String
    private let directory: SafeDirectory

    /// Creates the directory (mode 0700) when missing, and removes temporary files a crash left.
    public init(path: String) throws {
        self.path = path
        directory = try SafeDirectory(path)
        for name in try directory.names() where name.hasPrefix(".") && name.hasSuffix(".eml.tmp") {
            try directory.removeLeftover(name)
        }
    }

    /// The file name of `message`.
    public static func fileName(for message: OutboxMessage) throws -> String {
        (try DurableFile.fileName(forMessageID: message.messageID, of: message.id)) + ".eml"
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        var names: [String] = []
        names.reserveCapacity(messages.count)
        for message in messages {
            let name = try Self.fileName(for: message)
            try directory.create(".\(name).tmp", with: message.bytes)
            names.append(name)
        }
        if !(try directory.syncFileSystem()) {
            for name in names { try directory.sync(".\(name).tmp") }
        }
        for name in names { try directory.rename(".\(name).tmp", to: name) }
        try directory.sync()
    }
}
