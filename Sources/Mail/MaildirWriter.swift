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
///
/// The order of one ``write(_:)`` is what makes an export exactly once:
/// 1. `cur/` is read (see ``DeliveredNames``): what a reader took is not brought back to `new/`;
/// 2. every file of the batch is created in `tmp/` and written;
/// 3. one syncfs makes all their bytes durable (an fsync per file where syncfs is missing);
/// 4. each is renamed into `new/`, so a reader never sees a partial or non-durable file;
/// 5. `new/` is fsync'd, so the names survive a crash;
/// and only then does ``write(_:)`` return and the exporter mark the rows. A crash anywhere before
/// the mark leaves the rows pending; the rerun writes the same names again.
public struct MaildirWriter: OutboxWriter {
    public let path: String
    let delivered: DeliveredNames

    /// Creates `path`, `path/tmp`, `path/new` and `path/cur` (mode 0700) when missing.
    public init(path: String) throws {
        self.path = path
        for directory in [path, "\(path)/tmp", "\(path)/new", "\(path)/cur"] {
            try DurableFile.makeDirectory(directory)
        }
        delivered = DeliveredNames(directory: "\(path)/cur")
    }

    /// The file name of a message with outbox id `id`.
    public static func fileName(for id: String) throws -> String {
        "eticket." + (try DurableFile.fileName(for: id))
    }

    public func write(_ messages: [OutboxMessage]) throws {
        guard !messages.isEmpty else { return }
        let seen = try delivered.names()
        var batch: [(name: String, bytes: [UInt8])] = []
        batch.reserveCapacity(messages.count)
        for message in messages {
            let name = try Self.fileName(for: message.id)
            if !seen.contains(name) { batch.append((name, message.bytes)) }
        }
        // Write every file of the batch, make them all durable with one syncfs, then rename them:
        // an fsync per file costs a device flush each (a few hundred messages/s here).
        // One thread: creating a name takes tmp/'s lock, so a second thread only waits for it.
        let tmp = "\(path)/tmp"
        for file in batch { try DurableFile.create(file.bytes, at: "\(tmp)/\(file.name)") }
        if !(try DurableFile.syncFileSystem(of: tmp)) {
            for file in batch { try DurableFile.sync("\(tmp)/\(file.name)") }
        }
        for file in batch { try DurableFile.renameIntoPlace("\(tmp)/\(file.name)", to: "\(path)/new/\(file.name)") }
        try DurableFile.syncDirectory("\(path)/new")
    }
}

/// The names (flags cut off) of the messages in a Maildir's `cur/`, listed again only when the
/// directory changed.
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
    let directory: String
    private let lock = NSLock()
    private var stamp: DurableFile.DirectoryStamp?
    private var trusted = false
    private var cached: Set<String> = []
    /// How old the last change of the directory must be for a listing to be kept.
    var settleSeconds = 2
    /// How many times the directory was listed (for tests).
    private(set) var listings = 0

    init(directory: String) { self.directory = directory }

    func names() throws(MailError) -> Set<String> {
        lock.lock()
        defer { lock.unlock() }
        let now = try DurableFile.DirectoryStamp(of: directory)
        if trusted, now == stamp { return cached }
        var current = timespec()
        clock_gettime(CLOCK_REALTIME, &current)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map {
            String($0.prefix(while: { $0 != ":" }))
        }
        listings += 1
        cached = Set(names)
        stamp = now
        trusted = current.tv_sec - now.changed.tv_sec >= settleSeconds
        return cached
    }
}
