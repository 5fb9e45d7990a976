import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// File system steps the outbox writers share: private modes, fsync of files and directories,
/// write-then-rename. POSIX calls, because Foundation neither fsyncs a directory nor sets modes
/// at creation.
enum DurableFile {
    static let fileMode: mode_t = 0o600
    static let directoryMode: mode_t = 0o700

    static func failure(_ what: String, _ path: String) -> MailError {
        let code = errno
        let message = String(cString: strerror(code))
        return MailError(code: .io, reason: "\(what): \(message)", path: path, errno: code)
    }

    /// Creates `path` and its missing parents with mode 0700; an existing directory is kept as is.
    static func makeDirectory(_ path: String) throws(MailError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw MailError(code: .io, reason: "exists and is not a directory", path: path)
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectory(parent) }
        if mkdir(path, directoryMode) != 0, errno != EEXIST { throw failure("cannot create the directory", path) }
        if !parent.isEmpty { try syncDirectory(parent) }
    }

    /// fsyncs a directory, so the names created or renamed in it survive a crash.
    static func syncDirectory(_ path: String) throws(MailError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("cannot open the directory to sync it", path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("cannot sync the directory", path) }
    }

    /// Writes all of `bytes` at `offset` of an open file.
    static func write(_ bytes: [UInt8], to descriptor: Int32, at offset: off_t, path: String) throws(MailError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                pwrite(
                    descriptor, buffer.baseAddress.map { $0 + written }, bytes.count - written, offset + off_t(written))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write", path)
            }
            written += result
        }
    }

    /// Reads the first `length` bytes of an open file.
    static func read(_ descriptor: Int32, length: Int, path: String) throws(MailError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress.map { $0 + done }, length - done, off_t(done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", path)
            }
            if result == 0 { break }
            done += result
        }
        return Array(bytes.prefix(done))
    }

    /// Writes `bytes` to `temporary` (mode 0600, truncated) and fsyncs it, then renames it to
    /// `path`. The caller fsyncs the directory of `path` once its batch is renamed.
    static func writeThenRename(_ bytes: [UInt8], temporary: String, path: String) throws(MailError) {
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw failure("cannot create", temporary) }
        do throws(MailError) {
            // An existing temporary file keeps its mode through O_CREAT: set it.
            guard fchmod(descriptor, fileMode) == 0 else { throw failure("cannot set the mode of", temporary) }
            try write(bytes, to: descriptor, at: 0, path: temporary)
            guard fsync(descriptor) == 0 else { throw failure("cannot sync", temporary) }
        } catch {
            close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else { throw failure("cannot close", temporary) }
        guard rename(temporary, path) == 0 else { throw failure("cannot rename into place", path) }
    }

    /// Creates `path` (mode 0600) and writes `bytes` to it, without syncing it: the caller syncs
    /// it (``syncFileSystem(of:)`` or ``sync(_:)``) before renaming it into place.
    ///
    /// Three system calls: `open(O_CREAT|O_EXCL)`, one `write`, `close`. The file is new, so
    /// it has the mode asked for (no `fchmod`); a file left at that name (by a run that crashed)
    /// is removed first.
    static func create(_ bytes: [UInt8], at path: String) throws(MailError) {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC
        var descriptor = open(path, flags, fileMode)
        if descriptor < 0, errno == EEXIST {
            guard unlink(path) == 0 || errno == ENOENT else { throw failure("cannot remove the leftover", path) }
            descriptor = open(path, flags, fileMode)
        }
        guard descriptor >= 0 else { throw failure("cannot create", path) }
        do throws(MailError) {
            try write(bytes, to: descriptor, at: 0, path: path)
        } catch {
            close(descriptor)
            throw error
        }
        guard close(descriptor) == 0 else { throw failure("cannot close", path) }
    }

    /// A directory's identity and last change time: equal stamps mean the same names.
    struct DirectoryStamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var changed: timespec

        init(of path: String) throws(MailError) {
            var status = stat()
            guard stat(path, &status) == 0 else { throw failure("cannot read the status of", path) }
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
            changed = status.st_ctim
        }

        static func == (left: Self, right: Self) -> Bool {
            left.device == right.device && left.inode == right.inode && left.changed.tv_sec == right.changed.tv_sec
                && left.changed.tv_nsec == right.changed.tv_nsec
        }
    }

    /// fsyncs the file at `path`, so that its bytes survive a crash.
    static func sync(_ path: String) throws(MailError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("cannot open", path) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("cannot sync", path) }
    }

    /// Makes every file written so far on the file system holding `directory` durable at once
    /// (Linux `syncfs`): one journal commit for a whole batch of new files, where an fsync per
    /// file costs a commit each.
    ///
    /// - Returns: `false` where `syncfs` is not available: the caller then fsyncs each file.
    static func syncFileSystem(of directory: String) throws(MailError) -> Bool {
        #if os(Linux)
            guard let syncfs = syncfsFunction else { return false }
            let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard descriptor >= 0 else { throw failure("cannot open the directory", directory) }
            defer { close(descriptor) }
            guard syncfs(descriptor) == 0 else { throw failure("cannot sync the file system of", directory) }
            return true
        #else
            return false
        #endif
    }

    /// Renames `source` to `path`; the caller fsyncs the directory of `path` afterwards.
    static func renameIntoPlace(_ source: String, to path: String) throws(MailError) {
        guard rename(source, path) == 0 else { throw failure("cannot rename into place", path) }
    }

    /// A file name for an outbox id: letters, digits, `-`, `_` and `.` kept, every other byte
    /// written `%XX`, so distinct ids give distinct names and no id can leave the directory.
    static func fileName(for id: String) throws(MailError) -> String {
        guard !id.isEmpty else { throw MailError(code: .invalidOutboxID, reason: "an outbox id is empty") }
        var name = ""
        for (index, byte) in id.utf8.enumerated() {
            let keep =
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                || (byte == UInt8(ascii: ".") && index > 0)
            name += keep ? String(UnicodeScalar(byte)) : "%" + HeaderEncoding.hex(byte)
        }
        guard name.utf8.count <= 200 else {
            throw MailError(
                code: .invalidOutboxID, reason: "the outbox id \(id.debugDescription) is too long for a file name")
        }
        return name
    }
}

#if os(Linux)
    /// `syncfs(2)`, which Glibc's Swift module does not export; looked up once.
    private let syncfsFunction: (@convention(c) (Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
    }()
#endif
