import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file only ever appended to, crash-safe, for the mbox and JSON Lines writers.
///
/// Beside the file, a hidden marker (`.<name>.committed`) holds its length (and inode) after the
/// last complete, fsync'd append; the marker itself is replaced atomically. One append:
/// 1. lock the file (`flock`), so two exporters never interleave;
/// 2. cut anything past the committed length: the tail of an append a crash interrupted, whose
///    messages the caller has not marked and will write again;
/// 3. let the writer read the committed content and return only what is not there yet;
/// 4. append, fsync, then record the new length in the marker.
///
/// So a rerun after a crash at any point yields each message once. A consumer should take the
/// file by renaming it away (the usual spool hand-over); the next append starts a new file.
struct AppendLog {
    let path: String
    let directory: SafeDirectory
    let name: String
    let markerName: String

    /// Opens the directory of `path` (created when missing); the file is opened at each append.
    /// A link or anything but this user's regular file at the file's or the marker's name is
    /// refused at once, before any message is read.
    init(path: String) throws(MailError) {
        self.path = path
        (directory, name) = try SafeDirectory.containing(path)
        markerName = ".\(name).committed"
        try directory.checkReplaceable(name)
        try directory.checkReplaceable(markerName)
    }

    /// Appends what `newBytes` returns for the committed content, durably.
    func append(_ newBytes: ([UInt8]) throws(MailError) -> [UInt8]) throws(MailError) {
        let descriptor = try directory.openFile(name)
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw directory.failure("cannot lock", name) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw directory.failure("cannot stat", name) }
        var length = Int(status.st_size)
        let inode = UInt64(status.st_ino)
        let committed: Int
        switch try readMarker() {
        case nil:
            // First append to this file (or a file someone else made): what is there now counts
            // as committed, recorded before anything is appended so a torn first append is cut too.
            committed = length
            try writeMarker(length, inode: inode)
        case .some(let marker) where marker.inode != inode:
            // The file was taken away (renamed by a consumer) and this one created by a run that
            // stopped before recording it: nothing in it was committed.
            committed = 0
        case .some(let marker):
            committed = marker.length
        }
        if length > committed {
            guard ftruncate(descriptor, off_t(committed)) == 0 else {
                throw directory.failure("cannot cut an unfinished append from", name)
            }
            guard fsync(descriptor) == 0 else { throw directory.failure("cannot sync", name) }
            length = committed
        }
        if length < committed {
            // Truncated in place by someone else: start again from what is there.
            try writeMarker(length, inode: inode)
        }
        let existing = try SafeDirectory.read(descriptor, length: length, path: path)
        let appended = try newBytes(existing)
        guard !appended.isEmpty else {
            if try readMarker() != Marker(length: length, inode: inode) { try writeMarker(length, inode: inode) }
            return
        }
        try SafeDirectory.write(appended, to: descriptor, at: off_t(length), path: path)
        guard fsync(descriptor) == 0 else { throw directory.failure("cannot sync", name) }
        try writeMarker(length + appended.count, inode: inode)
    }

    /// What the marker records: the committed length of the file with this inode.
    struct Marker: Equatable {
        var length: Int
        var inode: UInt64
    }

    /// The marker, or `nil` when there is none (or it cannot be read as one); a marker that is a
    /// link or not this user's regular file is refused.
    private func readMarker() throws(MailError) -> Marker? {
        guard let data = try directory.contents(of: markerName) else { return nil }
        let fields = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let length = Int(fields[0]), let inode = UInt64(fields[1]) else { return nil }
        return Marker(length: length, inode: inode)
    }

    private func writeMarker(_ length: Int, inode: UInt64) throws(MailError) {
        let text = "\(length) \(inode)\n"
        try directory.replace(markerName, with: Array(text.utf8), temporary: markerName + ".tmp")
    }
}
