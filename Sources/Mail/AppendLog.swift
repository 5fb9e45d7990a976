import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file only ever appended to, crash-safe, for the mbox and JSON Lines writers.
///
/// Beside the file, a hidden marker (`.<name>.committed`) holds its length after the last
/// complete, fsync'd append; the marker itself is replaced atomically. One append:
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
    let markerPath: String

    init(path: String) throws(MailError) {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        self.markerPath = "\(directory)/.\(url.lastPathComponent).committed"
        try DurableFile.makeDirectory(directory)
    }

    var directory: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

    /// Appends what `newBytes` returns for the committed content, durably.
    func append(_ newBytes: ([UInt8]) throws(MailError) -> [UInt8]) throws(MailError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, DurableFile.fileMode)
        guard descriptor >= 0 else { throw DurableFile.failure("cannot open", path) }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw DurableFile.failure("cannot lock", path) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw DurableFile.failure("cannot stat", path) }
        var length = Int(status.st_size)
        if let committed = readMarker() {
            if length > committed {
                guard ftruncate(descriptor, off_t(committed)) == 0 else {
                    throw DurableFile.failure("cannot cut an unfinished append from", path)
                }
                guard fsync(descriptor) == 0 else { throw DurableFile.failure("cannot sync", path) }
                length = committed
            }
        } else {
            // First append to this file (or a file someone else made): what is there now counts as
            // committed, recorded before anything is appended so a torn first append is cut too.
            try writeMarker(length)
        }
        let existing = try DurableFile.read(descriptor, length: length, path: path)
        let appended = try newBytes(existing)
        guard !appended.isEmpty else {
            if readMarker() != length { try writeMarker(length) }
            return
        }
        try DurableFile.write(appended, to: descriptor, at: off_t(length), path: path)
        guard fsync(descriptor) == 0 else { throw DurableFile.failure("cannot sync", path) }
        try writeMarker(length + appended.count)
    }

    private func readMarker() -> Int? {
        guard let data = FileManager.default.contents(atPath: markerPath) else { return nil }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func writeMarker(_ length: Int) throws(MailError) {
        try DurableFile.writeThenRename(Array("\(length)\n".utf8), temporary: markerPath + ".tmp", path: markerPath)
        try DurableFile.syncDirectory(directory)
    }
}
