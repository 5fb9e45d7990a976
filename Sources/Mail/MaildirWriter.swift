import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes messages into a Maildir: the batch into `tmp/`, syncfs (or fsync each), rename each into
/// `new/`, fsync `new/`.
///
/// A message's file name follows the Maildir convention, `time.unique.host`: the time the email
/// was rendered (seconds), `E` and its Message-ID made file-safe (random per message, so two
/// databases or two hosts exporting into one Maildir never take the same name), and this host's
/// name (`/` and `:` written `\057` and `\072`). `time.unique` is the same on every run: a message
/// whose `time.unique` is already in `new/` (when the export starts) or in `cur/` (a reader took
/// it, `…:2,S`) is not written again, from this host or another. The bytes are the message's own,
/// CRLF line endings included.
///
/// The order of one ``write(_:)`` is what makes an export exactly once:
/// 1. `cur/` is read (see ``DeliveredNames``): what a reader took is not brought back to `new/`;
/// 2. every file of the batch is created in `tmp/` and written;
/// 3. one syncfs makes all their bytes durable (an fsync per file where syncfs is missing);
/// 4. each is renamed into `new/`, so a reader never sees a partial or non-durable file;
/// 5. `new/` is fsync'd, so the names survive a crash;
/// and only then does ``write(_:)`` return and the exporter mark the rows. A crash anywhere before
/// the mark leaves the rows pending; the rerun finds them in `new/` and does not write them twice.
public struct MaildirWriter: OutboxWriter {
    public let path: String
    let tmp: SafeDirectory
    let new: SafeDirectory
    let delivered: DeliveredNames
    /// The messages (`time.unique`) in `new/` when the writer was made: a run that crashed after
    /// renaming them, before marking their rows, left them there.
    let alreadyNew: Set<Substring>
    let host: String

    /// Creates `path`, `path/tmp`, `path/new` and `path/cur` (mode 0700) when missing.
    public init(path: String) throws {
        try self.init(path: path, host: Self.localHost())
    }

    init(path: String, host: String) throws {
        self.path = path
        self.host = host
        let root = try SafeDirectory(path)
        tmp = try root.subdirectory("tmp")
        new = try root.subdirectory("new")
        delivered = DeliveredNames(directory: try root.subdirectory("cur"))
        alreadyNew = Set(try new.names().compactMap(Self.message(named:)))
    }

    /// The file name of `message` written by `host`.
    public static func fileName(for message: OutboxMessage, host: String = localHost()) throws -> String {
        "\(try uniqueName(for: message)).\(host)"
    }

    /// `time.unique`: what names the message whatever host writes it.
    static func uniqueName(for message: OutboxMessage) throws(MailError) -> String {
        let seconds = Int64(message.createdAt.timeIntervalSince1970.rounded(.down))
        return "\(seconds).E\(try DurableFile.fileName(forMessageID: message.messageID, of: message.id))"
    }

    /// The `time.unique` of a file name in `new/` or `cur/`; `nil` for a name not of that form.
    static func message(named name: String) -> Substring? {
        let fields = name.prefix(while: { $0 != ":" }).split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3, fields[1].hasPrefix("E") else { return nil }
        return name[fields[0].startIndex..<fields[1].endIndex]
    }

    /// This host's name as the Maildir convention writes it: `/` as `\057`, `:` as `\072`.
    public static func localHost() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name = gethostname(&buffer, buffer.count - 1) == 0 ? String(cString: buffer) : "localhost"
        return (name.isEmpty ? "localhost" : name).replacingOccurrences(of: "/", with: "\\057")
            .replacingOccurrences(of: ":", with: "\\072")
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        let seen = try delivered.names()
        var batch: [(name: String, bytes: [UInt8])] = []
        batch.reserveCapacity(messages.count)
        for message in messages {
            let unique = try Self.uniqueName(for: message)
            if !seen.contains(Substring(unique)), !alreadyNew.contains(Substring(unique)) {
                batch.append(("\(unique).\(host)", message.bytes))
            }
        }
        // Write every file of the batch, make them all durable with one syncfs, then rename them:
        // an fsync per file costs a device flush each (a few hundred messages/s here).
        // One thread: creating a name takes tmp/'s lock, so a second thread only waits for it.
        for file in batch { try tmp.create(file.name, with: file.bytes) }
        if !(try tmp.syncFileSystem()) {
            for file in batch { try tmp.sync(file.name) }
        }
        for file in batch { try tmp.rename(file.name, to: file.name, in: new) }
        try new.sync()
    }
}

/// The messages (`time.unique`, see ``MaildirWriter``) in a Maildir's `cur/`, listed again only
/// when the directory changed.
///
/// `cur/` grows with everything a reader ever took; listing it for every batch made an export
/// slower the longer the mailbox lived. A directory's ctime changes with every name added or
/// removed (a reader's rename from `new/` included), and cannot be set by hand: the listing is
/// kept while the ctime (and the inode) stay the same. ctime ticks coarsely, so a listing made
/// less than ``settleSeconds`` after the last change is taken again next time: a change in the
/// same tick would not move the ctime. A reader's rename into `cur/` between the listing and the
/// writer's rename into `new/` is not seen, as it was not before when `cur/` was listed for
/// every batch.
final class DeliveredNames: @unchecked Sendable {
    let directory: SafeDirectory
    private let lock = NSLock()
    private var stamp: DurableFile.DirectoryStamp?
    private var trusted = false
    private var cached: Set<Substring> = []
    /// How old the last change of the directory must be for a listing to be kept.
    var settleSeconds = 2
    /// How many times the directory was listed (for tests).
    private(set) var listings = 0

    init(directory: SafeDirectory) { self.directory = directory }

    func names() throws(MailError) -> Set<Substring> {
        lock.lock()
        defer { lock.unlock() }
        let now = try DurableFile.DirectoryStamp(of: directory)
        if trusted, now == stamp { return cached }
        var current = timespec()
        clock_gettime(CLOCK_REALTIME, &current)
        let names = try directory.names().compactMap(MaildirWriter.message(named:))
        listings += 1
        cached = Set(names)
        stamp = now
        trusted = current.tv_sec - now.changed.tv_sec >= settleSeconds
        return cached
    }
}
