import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the outbox writers share besides ``SafeDirectory``: file names made from Message-IDs, and
/// a directory's stamp.
enum DurableFile {
    /// A directory's identity and last change time: equal stamps mean the same names.
    struct DirectoryStamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var changed: timespec

        init(of directory: SafeDirectory) throws(MailError) {
            let status = try directory.status()
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
            changed = status.st_ctim
        }

        static func == (left: Self, right: Self) -> Bool {
            left.device == right.device && left.inode == right.inode && left.changed.tv_sec == right.changed.tv_sec
                && left.changed.tv_nsec == right.changed.tv_nsec
        }
    }

    /// A file name part for a Message-ID: letters, digits, `-` and `_` kept, every other byte
    /// (`.`, `@` included) written `%XX`, so distinct ids give distinct names, no id can leave the
    /// directory, and the Maildir's `.` separators stay the only dots.
    static func fileName(forMessageID id: String, of row: String) throws(MailError) -> String {
        guard !id.isEmpty else {
            throw MailError(code: .invalidMessageID, reason: "the outbox message \(row) has no Message-ID to name its file")
        }
        var name = ""
        for byte in id.utf8 {
            let keep =
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            name += keep ? String(UnicodeScalar(byte)) : "%" + HeaderEncoding.hex(byte)
        }
        // 160: with the time, `E`, the host (64 at most on Linux) and `:2,S` a Maildir name
        // stays under the 255 bytes a name may have.
        guard name.utf8.count <= 160 else {
            throw MailError(
                code: .invalidMessageID, reason: "the Message-ID of the outbox message \(row) is too long for a file name")
        }
        return name
    }
}
