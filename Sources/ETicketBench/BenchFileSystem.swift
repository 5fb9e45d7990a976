import BackOffice
import CFileFlags
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the file system under the Maildir does to the export's figure.
///
/// ext4 without a journal does not reuse an inode freed less than a minute ago (six while its
/// inode-table block is still dirty): every new file's allocation scans past each of them first
/// (`recently_deleted` in fs/ext4/ialloc.c). With a journal it does not check. After an earlier
/// run's cleanup removed its 150,000 messages, the next run creates files in the same block group
/// at a tenth of the usual rate (1,200–1,700 against 18,000–27,000 files/s, measured here with a
/// C program writing 2,000 files), and its export measures that, not the writer.
///
/// So the bench places its Maildir away from those inodes (``exportDirectory(in:)``): 15,800
/// files/s right after 150,000 were deleted, against 1,100 beside them (a Python loop writing
/// 3,000 files of 6 KB in batches of 100, each batch synced and renamed as the Maildir writer does).
package enum BenchFileSystem {
    /// Where the export's Maildir goes: a new name under `work`, and whether `work` is marked so
    /// that the Maildir's block group is chosen afresh (else it is the work directory's).
    ///
    /// ext4 puts a new subdirectory in its parent's block group, and each run's work directory in
    /// TMPDIR's: the group whose inodes the last run's cleanup just freed. A directory marked as a
    /// top directory (`chattr +T`) has its subdirectories placed as the root's are, in a group
    /// found from a hash of the name; the name is random so that no two runs start that search at
    /// the same group. A file system without the flag (tmpfs, or not Linux) leaves it unset.
    package static func exportDirectory(in work: URL) -> (url: URL, placedApart: Bool) {
        let name = "maildir-" + String(UInt64.random(in: .min ... .max), radix: 16)
        let marked = withDirectory(work.path) { eticket_mark_top_directory($0) == 0 } ?? false
        return (work.appendingPathComponent(name), marked)
    }

    /// Whether `path` is a directory marked as a top directory (see ``exportDirectory(in:)``).
    package static func isTopDirectory(_ path: String) -> Bool {
        withDirectory(path) { eticket_is_top_directory($0) == 1 } ?? false
    }

    /// `body` on the directory `path` opened; `nil` when it cannot be opened.
    private static func withDirectory<T>(_ path: String, _ body: (Int32) -> T) -> T? {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return nil }
        defer { close(directory) }
        return body(directory)
    }

    /// A note for the report when `path` is on ext4 without a journal and the Maildir could not
    /// be placed apart, else `nil`.
    package static func journalLessNote(for path: String, placedApart: Bool) -> String? {
        guard !placedApart else { return nil }
        return deviceNumbers(of: path).flatMap { journalLessNote(major: $0.major, minor: $0.minor) }
    }

    /// The note for the block device `major`:`minor`, as the sysfs mounted at `sysfs` describes it.
    package static func journalLessNote(major: UInt64, minor: UInt64, sysfs: String = "/sys") -> String? {
        // /sys/dev/block/254:0 links to …/block/vda; ext4 names its directory after the same device.
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(sysfs)/dev/block/\(major):\(minor)")
        else { return nil }
        let device = (target as NSString).lastPathComponent
        guard let task = try? String(contentsOfFile: "\(sysfs)/fs/ext4/\(device)/journal_task", encoding: .utf8),
            task.trimmingCharacters(in: .whitespacesAndNewlines) == "<none>"
        else { return nil }
        return """
            the Maildir is on ext4 without a journal (\(device)): for minutes after many files are deleted \
            (an earlier run's cleanup), creating files there runs several times slower; run the benchmark \
            6 minutes after the last one to measure the exporter rather than that
            """
    }

    /// The major and minor numbers of the device holding `path`.
    package static func deviceNumbers(of path: String) -> (major: UInt64, minor: UInt64)? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        let device = UInt64(status.st_dev)
        // glibc's encoding of a dev_t (gnu_dev_major and gnu_dev_minor, which Swift does not import).
        return (((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff)), (device & 0xff) | ((device >> 12) & ~UInt64(0xff)))
    }
}
