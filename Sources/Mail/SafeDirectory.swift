import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A directory the product writes files into, opened once, whose files are reached only through
/// its descriptor (`openat`, `renameat`, `unlinkat`) and never through a symbolic link.
///
/// Whoever can write in an export folder could otherwise plant a link named like the file the
/// product is about to write and make it truncate or fill any file its user can write, with
/// families' data. So every file written here:
/// - is opened with `O_NOFOLLOW` relative to this directory's descriptor: a link is refused;
/// - must be a regular file with one name, belonging to this process's user: a FIFO, a directory,
///   a device, a hard link or someone else's file is refused before a byte is written or cut;
/// - gets the mode asked for (0600 unless said otherwise), whatever it had before.
///
/// The directory itself is refused when its last path component is a symbolic link: give the
/// real directory. The components above it are trusted as they are (`/var/run` is a link on many
/// systems): only people who may write the files anyway should be able to write in them.
public final class SafeDirectory: Sendable {
    /// The directory as given, for messages.
    public let path: String
    let descriptor: Int32

    /// Private: the files hold personal data.
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700

    /// Opens the directory `path`, creating it and its missing parents (mode 0700) when `create`.
    ///
    /// - Throws: ``MailError`` `.refusedFile` when `path` is a symbolic link or not a directory,
    ///   `.io` when it cannot be created or opened.
    public init(_ path: String, create: Bool = true) throws(MailError) {
        // A trailing `/` would make the system follow a link in the last component.
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        if path.isEmpty { path = "." }
        self.path = path
        var descriptor = open(path, Self.directoryFlags)
        if descriptor < 0, errno == ENOENT, create {
            try Self.makeDirectory(path)
            descriptor = open(path, Self.directoryFlags)
        }
        guard descriptor >= 0 else { throw Self.refusal(opening: path, errno: errno) }
        self.descriptor = descriptor
    }

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The directory holding the file `filePath`, and the file's name in it.
    public static func containing(_ filePath: String, create: Bool = true) throws(MailError) -> (SafeDirectory, String) {
        let url = URL(fileURLWithPath: filePath)
        let name = url.lastPathComponent
        guard !name.isEmpty, name != "/", name != ".", name != "..", !filePath.hasSuffix("/") else {
            throw MailError(code: .refusedFile, reason: "names a directory, not a file", path: filePath)
        }
        let directory = (filePath as NSString).deletingLastPathComponent
        return (try SafeDirectory(directory.isEmpty ? "." : directory, create: create), name)
    }

    /// The subdirectory `name`, created (mode 0700) when missing and `create`.
    public func subdirectory(_ name: String, create: Bool = true) throws(MailError) -> SafeDirectory {
        var child = openat(descriptor, name, Self.directoryFlags)
        if child < 0, errno == ENOENT, create {
            guard mkdirat(descriptor, name, Self.directoryMode) == 0 || errno == EEXIST else {
                throw failure("cannot create the directory", name)
            }
            try sync()
            child = openat(descriptor, name, Self.directoryFlags)
        }
        guard child >= 0 else { throw Self.refusal(opening: full(name), errno: errno) }
        return SafeDirectory(path: full(name), descriptor: child)
    }

    // MARK: - Files

    /// Opens the file `name` for reading and writing, creating it when missing: an existing one
    /// must be this user's regular file, and is given `mode`.
    ///
    /// - Parameter truncate: cut an existing file to nothing (after the checks, never before).
    /// - Returns: the open descriptor; the caller closes it.
    public func openFile(_ name: String, mode: mode_t = fileMode, truncate: Bool = false) throws(MailError) -> Int32 {
        // O_NONBLOCK: opening a FIFO must not wait for a reader; it is refused just after.
        let file = openat(descriptor, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode)
        guard file >= 0 else { throw refusal(name, errno: errno, doing: "cannot open") }
        do throws(MailError) {
            try checkOwnRegularFile(file, name)
            guard fchmod(file, mode) == 0 else { throw failure("cannot set the mode of", name) }
            if truncate, ftruncate(file, 0) != 0 { throw failure("cannot truncate", name) }
            try clearNonBlocking(file, name)
        } catch {
            close(file)
            throw error
        }
        return file
    }

    /// Creates the file `name`, which must not exist; a regular file of this user left at that
    /// name (by a run that crashed) is removed first, anything else there is refused.
    ///
    /// - Returns: the open descriptor (write only); the caller closes it.
    public func createFile(_ name: String, mode: mode_t = fileMode) throws(MailError) -> Int32 {
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var file = openat(descriptor, name, flags, mode)
        if file < 0, errno == EEXIST {
            try removeLeftover(name)
            file = openat(descriptor, name, flags, mode)
        }
        guard file >= 0 else { throw refusal(name, errno: errno, doing: "cannot create") }
        // The umask may have narrowed the mode: set it.
        guard fchmod(file, mode) == 0 else {
            let error = failure("cannot set the mode of", name)
            close(file)
            throw error
        }
        return file
    }

    /// Writes `bytes` to a new file `name` (see ``createFile(_:mode:)``) and closes it, without
    /// syncing it (the caller syncs the batch).
    public func create(_ name: String, with bytes: [UInt8], mode: mode_t = fileMode) throws(MailError) {
        let file = try createFile(name, mode: mode)
        do throws(MailError) {
            try Self.write(bytes, to: file, at: 0, path: full(name))
        } catch {
            close(file)
            throw error
        }
        guard close(file) == 0 else { throw failure("cannot close", name) }
    }

    /// Replaces `name` with `bytes` atomically: written to `temporary`, fsync'd, renamed over
    /// `name` (which must be absent or this user's regular file), then the directory fsync'd.
    public func replace(_ name: String, with bytes: [UInt8], temporary: String, mode: mode_t = fileMode) throws(MailError) {
        let file = try createFile(temporary, mode: mode)
        do throws(MailError) {
            try Self.write(bytes, to: file, at: 0, path: full(temporary))
            guard fsync(file) == 0 else { throw failure("cannot sync", temporary) }
        } catch {
            close(file)
            unlinkat(descriptor, temporary, 0)
            throw error
        }
        guard close(file) == 0 else { throw failure("cannot close", temporary) }
        do throws(MailError) {
            try rename(temporary, to: name)
        } catch {
            unlinkat(descriptor, temporary, 0)
            throw error
        }
        try sync()
    }

    /// The content of `name`, or `nil` when there is no such file; anything but this user's
    /// regular file is refused.
    public func contents(of name: String) throws(MailError) -> [UInt8]? {
        let file = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if file < 0, errno == ENOENT { return nil }
        guard file >= 0 else { throw refusal(name, errno: errno, doing: "cannot open") }
        defer { close(file) }
        try checkOwnRegularFile(file, name)
        var status = stat()
        guard fstat(file, &status) == 0 else { throw failure("cannot read the status of", name) }
        return try Self.read(file, length: Int(status.st_size), path: full(name))
    }

    /// Renames `source` to `target` in this directory. `target` may be absent or this user's
    /// regular file (which is replaced); a link, a directory or someone else's file is refused.
    public func rename(_ source: String, to target: String) throws(MailError) {
        try checkReplaceable(target)
        guard renameat(descriptor, source, descriptor, target) == 0 else {
            throw failure("cannot rename \(source) into place", target)
        }
    }

    /// Renames `source` here to `target` in `directory`, on the same terms as ``rename(_:to:)``.
    public func rename(_ source: String, to target: String, in directory: SafeDirectory) throws(MailError) {
        try directory.checkReplaceable(target)
        guard renameat(descriptor, source, directory.descriptor, target) == 0 else {
            throw directory.failure("cannot rename \(full(source)) into place", target)
        }
    }

    /// Removes the file `name` if it is still the file open as `file` (a name someone else put
    /// there meanwhile is left alone).
    public func remove(_ name: String, ifStill file: Int32) {
        var open = stat()
        var named = stat()
        guard fstat(file, &open) == 0, fstatat(descriptor, name, &named, AT_SYMLINK_NOFOLLOW) == 0,
            open.st_dev == named.st_dev, open.st_ino == named.st_ino
        else { return }
        unlinkat(descriptor, name, 0)
    }

    /// Removes `name` when it is a leftover of this user (a regular file); a missing name is fine.
    public func removeLeftover(_ name: String) throws(MailError) {
        var status = stat()
        guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw failure("cannot read the status of", name)
        }
        try check(status, name)
        guard unlinkat(descriptor, name, 0) == 0 || errno == ENOENT else { throw failure("cannot remove the leftover", name) }
    }

    /// The names in the directory (without `.` and `..`).
    public func names() throws(MailError) -> [String] {
        let copy = dup(descriptor)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw failure("cannot list", ".")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { buffer in
                String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// The directory's own status (its inode and ctime, for ``DeliveredNames``).
    func status() throws(MailError) -> stat {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("cannot read the status of", ".") }
        return status
    }

    // MARK: - Durability

    /// fsyncs the directory, so the names created or renamed in it survive a crash.
    public func sync() throws(MailError) {
        guard fsync(descriptor) == 0 else { throw failure("cannot sync the directory", ".") }
    }

    /// fsyncs the file `name`.
    public func sync(_ name: String) throws(MailError) {
        let file = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else { throw refusal(name, errno: errno, doing: "cannot open") }
        defer { close(file) }
        try checkOwnRegularFile(file, name)
        guard fsync(file) == 0 else { throw failure("cannot sync", name) }
    }

    /// Makes every file written so far on this directory's file system durable at once (Linux
    /// `syncfs`): one journal commit for a batch of new files, where an fsync each costs a commit.
    ///
    /// - Returns: `false` where `syncfs` is not available: the caller then fsyncs each file.
    public func syncFileSystem() throws(MailError) -> Bool {
        #if os(Linux)
            guard let syncfs = syncfsFunction else { return false }
            guard syncfs(descriptor) == 0 else { throw failure("cannot sync the file system of", ".") }
            return true
        #else
            return false
        #endif
    }

    // MARK: - Checks

    private static let directoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC

    private func full(_ name: String) -> String { name == "." ? path : "\(path)/\(name)" }

    func failure(_ what: String, _ name: String) -> MailError {
        Self.failure(what, full(name), errno: errno)
    }

    static func failure(_ what: String, _ path: String, errno code: Int32) -> MailError {
        MailError(code: .io, reason: "\(what): \(String(cString: strerror(code)))", path: path, errno: code)
    }

    /// Refuses to write through `name` unless it is absent or this user's regular file.
    func checkReplaceable(_ name: String) throws(MailError) {
        var status = stat()
        guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw failure("cannot read the status of", name)
        }
        try check(status, name)
    }

    private func checkOwnRegularFile(_ file: Int32, _ name: String) throws(MailError) {
        var status = stat()
        guard fstat(file, &status) == 0 else { throw failure("cannot read the status of", name) }
        try check(status, name)
    }

    private func check(_ status: stat, _ name: String) throws(MailError) {
        let path = full(name)
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw MailError(
                code: .refusedFile, reason: "is \(Self.kind(status.st_mode)), not a regular file: refusing to write to it",
                path: path)
        }
        guard status.st_uid == geteuid() else {
            throw MailError(
                code: .refusedFile,
                reason: "belongs to uid \(status.st_uid), not to this user (uid \(geteuid())): refusing to write to it",
                path: path)
        }
        guard status.st_nlink == 1 else {
            throw MailError(
                code: .refusedFile,
                reason: "has \(status.st_nlink) names (hard links): refusing to write to a file that is also elsewhere",
                path: path)
        }
    }

    /// Why opening `name` failed, told as what stands there when that is the reason.
    private func refusal(_ name: String, errno code: Int32, doing what: String) -> MailError {
        var status = stat()
        if fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0, (status.st_mode & S_IFMT) != S_IFREG {
            return MailError(
                code: .refusedFile,
                reason: "is \(Self.kind(status.st_mode)), not a regular file: refusing to write through it",
                path: full(name), errno: code)
        }
        return Self.failure(what, full(name), errno: code)
    }

    private static func refusal(opening path: String, errno code: Int32) -> MailError {
        var status = stat()
        if lstat(path, &status) == 0, (status.st_mode & S_IFMT) != S_IFDIR {
            return MailError(
                code: .refusedFile,
                reason: (status.st_mode & S_IFMT) == S_IFLNK
                    ? "is a symbolic link: refusing to follow it (give the real directory)"
                    : "is \(kind(status.st_mode)), not a directory",
                path: path, errno: code)
        }
        return failure("cannot open the directory", path, errno: code)
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: "a symbolic link"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "a regular file"
        }
    }

    private func clearNonBlocking(_ file: Int32, _ name: String) throws(MailError) {
        let flags = fcntl(file, F_GETFL)
        guard flags >= 0, fcntl(file, F_SETFL, flags & ~O_NONBLOCK) == 0 else { throw failure("cannot set the flags of", name) }
    }

    /// Creates `path` and its missing parents with mode 0700, fsyncing each parent.
    private static func makeDirectory(_ path: String) throws(MailError) {
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path, access(parent, F_OK) != 0, errno == ENOENT { try makeDirectory(parent) }
        guard mkdir(path, directoryMode) == 0 || errno == EEXIST else {
            throw failure("cannot create the directory", path, errno: errno)
        }
        let parentDescriptor = open(parent.isEmpty ? "." : parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if parentDescriptor >= 0 {
            defer { close(parentDescriptor) }
            guard fsync(parentDescriptor) == 0 else { throw failure("cannot sync the directory", parent, errno: errno) }
        }
    }

    // MARK: - Reading and writing open files

    /// Writes all of `bytes` at `offset` of an open file.
    static func write(_ bytes: [UInt8], to file: Int32, at offset: off_t, path: String) throws(MailError) {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                pwrite(file, buffer.baseAddress.map { $0 + written }, bytes.count - written, offset + off_t(written))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write", path, errno: errno)
            }
            written += result
        }
    }

    /// Reads the first `length` bytes of an open file.
    static func read(_ file: Int32, length: Int, path: String) throws(MailError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let result = bytes.withUnsafeMutableBytes { buffer in
                pread(file, buffer.baseAddress.map { $0 + done }, length - done, off_t(done))
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read", path, errno: errno)
            }
            if result == 0 { break }
            done += result
        }
        return Array(bytes.prefix(done))
    }
}

#if os(Linux)
    /// `syncfs(2)`, which Glibc's Swift module does not export; looked up once.
    private let syncfsFunction: (@convention(c) (Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32) -> Int32).self)
    }()
#endif
