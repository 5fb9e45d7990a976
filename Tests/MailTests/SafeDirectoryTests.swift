import Foundation
import TestSupport
import Testing

@testable import Mail

#if canImport(Glibc)
    import Glibc
#endif

/// Someone who can write in the export folder plants links, FIFOs, directories or other files
/// where the exporter is about to write: nothing is written through them, the victim file is left
/// as it was, and the writer says which path and why.
@Suite struct SafeDirectoryTests {
    private func message(_ index: Int, messageID: String? = nil) -> OutboxMessage {
        let id = messageID ?? "m\(index)@x.example"
        return OutboxMessage(
            id: String(index), messageID: id, from: "a@x.example", to: "b@x.example", subject: "s", text: "t",
            html: "", headers: [], bytes: Array("Message-ID: <\(id)>\r\n\r\nbody \(index)\r\n".utf8),
            createdAt: Fixtures.date)
    }

    /// Runs `body`, which must be refused with a ``MailError`` naming `path` and saying `why`.
    private func expectRefused(_ path: String, _ why: String, _ body: () throws -> Void) {
        let error = #expect(throws: MailError.self) { try body() }
        #expect(error?.code == .refusedFile, "\(String(describing: error))")
        #expect(error?.path == path, "\(String(describing: error))")
        #expect(error?.description.contains(why) == true, "\(String(describing: error))")
    }

    private func write(_ format: OutboxFormat, to path: String) throws {
        try makeOutboxWriter(format, path: path).write([message(1)])
    }

    @Test(arguments: [OutboxFormat.jsonl, .mbox])
    func aLinkAsTheAppendedFileIsRefused(format: OutboxFormat) throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format.rawValue)"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
        expectRefused(path, "is a symbolic link") { try write(format, to: path) }
        try VictimFile.expectUntouched(victim)
    }

    @Test(arguments: [OutboxFormat.jsonl, .mbox])
    func aLinkAsTheCommittedMarkerIsRefused(format: OutboxFormat) throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format.rawValue)"
        let marker = "\(folder)/.outbox.\(format.rawValue).committed"
        try FileManager.default.createSymbolicLink(atPath: marker, withDestinationPath: victim)
        expectRefused(marker, "is a symbolic link") { try write(format, to: path) }
        try VictimFile.expectUntouched(victim)
    }

    @Test(arguments: [OutboxFormat.jsonl, .mbox])
    func aLinkAsTheMarkersTemporaryFileIsRefused(format: OutboxFormat) throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format.rawValue)"
        let temporary = "\(folder)/.outbox.\(format.rawValue).committed.tmp"
        try FileManager.default.createSymbolicLink(atPath: temporary, withDestinationPath: victim)
        expectRefused(temporary, "is a symbolic link") { try write(format, to: path) }
        try VictimFile.expectUntouched(victim)
    }

    @Test(arguments: [OutboxFormat.jsonl, .mbox])
    func anExistingWorldReadableFileEndsPrivate(format: OutboxFormat) throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format.rawValue)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: 0o644]))
        try write(format, to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test(arguments: [OutboxFormat.jsonl, .mbox])
    func aFIFOOrADirectoryInPlaceOfTheFileIsRefused(format: OutboxFormat) throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let fifo = "\(folder)/fifo.\(format.rawValue)"
        #expect(mkfifo(fifo, 0o600) == 0)
        expectRefused(fifo, "is a FIFO") { try write(format, to: fifo) }
        let directory = "\(folder)/directory.\(format.rawValue)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        expectRefused(directory, "is a directory") { try write(format, to: directory) }
    }

    @Test(arguments: [OutboxFormat.jsonl, .mbox])
    func aHardLinkToAnotherFileIsRefused(format: OutboxFormat) throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format.rawValue)"
        #expect(link(victim, path) == 0)
        expectRefused(path, "hard links") { try write(format, to: path) }
        try VictimFile.expectUntouched(victim)
    }

    /// Only root can give a file away; CI runs as root.
    @Test(.enabled(if: geteuid() == 0, "needs root to give a file to another user"), arguments: [OutboxFormat.jsonl, .mbox])
    func anotherUsersFileIsRefused(format: OutboxFormat) throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let path = "\(folder)/outbox.\(format.rawValue)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: 0o666]))
        #expect(chown(path, 65534, 65534) == 0)
        expectRefused(path, "belongs to uid 65534") { try write(format, to: path) }
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == 0)
    }

    @Test(arguments: OutboxFormat.allCases)
    func aLinkAsTheExportDirectoryIsRefused(format: OutboxFormat) throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let elsewhere = folder + "-elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        let link = "\(folder)/linked"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: elsewhere)
        // With a trailing slash too, which would make the system follow the link.
        let path = format == .maildir || format == .eml ? link + "/" : "\(link)/outbox"
        expectRefused(link, "is a symbolic link") { try write(format, to: path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == [])
    }

    @Test(arguments: ["tmp", "new", "cur"])
    func aMaildirSubdirectoryThatIsALinkIsRefused(subdirectory: String) throws {
        let (folder, _) = try VictimFile.folderAndVictim()
        let elsewhere = folder + "-elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        let maildir = "\(folder)/Maildir"
        for name in ["tmp", "new", "cur"] where name != subdirectory {
            try FileManager.default.createDirectory(atPath: "\(maildir)/\(name)", withIntermediateDirectories: true)
        }
        try FileManager.default.createSymbolicLink(atPath: "\(maildir)/\(subdirectory)", withDestinationPath: elsewhere)
        expectRefused("\(maildir)/\(subdirectory)", "is a symbolic link") { try write(.maildir, to: maildir) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == [])
    }

    @Test(arguments: ["tmp", "new"])
    func aLinkNamedLikeAMaildirMessageIsRefused(subdirectory: String) throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let maildir = "\(folder)/Maildir"
        let writer = try MaildirWriter(path: maildir)
        let planted = "\(maildir)/\(subdirectory)/\(try MaildirWriter.fileName(for: message(1)))"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        // A rerun reads new/ when it starts: plant the link after that, as an attacker racing it would.
        expectRefused(planted, "is a symbolic link") { try writer.write([message(1)]) }
        try VictimFile.expectUntouched(victim)
    }

    @Test(arguments: [true, false])
    func aLinkNamedLikeAnEMLFileIsRefused(temporary: Bool) throws {
        let (folder, victim) = try VictimFile.folderAndVictim()
        let writer = try EMLWriter(path: folder)
        let name = try EMLWriter.fileName(for: message(1))
        let planted = "\(folder)/\(temporary ? ".\(name).tmp" : name)"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        expectRefused(planted, "is a symbolic link") { try writer.write([message(1)]) }
        try VictimFile.expectUntouched(victim)
    }

    @Test func twoDatabasesExportingIntoOneMaildirKeepEachOthersMessages() throws {
        let maildir = try Fixtures.temporaryDirectory() + "/Maildir"
        // Both outboxes number their rows from 1; their Message-IDs are random, so differ.
        let first = (1...3).map { message($0, messageID: "\(UUID().uuidString.lowercased())@a.example") }
        let second = (1...3).map { message($0, messageID: "\(UUID().uuidString.lowercased())@b.example") }
        try MaildirWriter(path: maildir).write(first)
        try MaildirWriter(path: maildir).write(second)
        let found = try FileManager.default.contentsOfDirectory(atPath: "\(maildir)/new").map {
            Array(try Data(contentsOf: URL(fileURLWithPath: "\(maildir)/new/\($0)")))
        }
        let sameMessages = Set(found) == Set((first + second).map(\.bytes))
        #expect(sameMessages && found.count == 6, "\(found.count) files")
    }

    @Test func maildirNamesFollowTheConvention() throws {
        let name = try MaildirWriter.fileName(for: message(1), host: MaildirWriter.localHost())
        let fields = name.split(separator: ".", maxSplits: 2)
        #expect(fields.count == 3)
        #expect(fields[0] == String(Int(Fixtures.date.timeIntervalSince1970)))
        #expect(fields[1].hasPrefix("E"))
        #expect(!name.contains("/") && !name.contains(":"))
        #expect(!MaildirWriter.localHost().contains("/") && !MaildirWriter.localHost().contains(":"))
        // A Message-ID too long to name a file is an error, not a name past 255 bytes.
        let long = message(2, messageID: String(repeating: "x", count: 200) + "@x.example")
        let error = #expect(throws: MailError.self) { try MaildirWriter.fileName(for: long) }
        #expect(error?.code == .invalidMessageID)
    }

    @Test func aRerunAfterACrashFromAnotherHostWritesEachMessageOnce() throws {
        let maildir = try Fixtures.temporaryDirectory() + "/Maildir"
        let messages = (1...3).map { message($0) }
        // The first host renamed the batch into new/ and died before the rows were marked.
        try MaildirWriter(path: maildir, host: "first.example").write(messages)
        // The rerun, from this host or another, finds them there; one a reader took is not
        // brought back either.
        let taken = try MaildirWriter.fileName(for: messages[0], host: "first.example")
        try FileManager.default.moveItem(atPath: "\(maildir)/new/\(taken)", toPath: "\(maildir)/cur/\(taken):2,S")
        try MaildirWriter(path: maildir, host: "first.example").write(messages)
        try MaildirWriter(path: maildir, host: "second\\057host").write(messages)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(maildir)/new").count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(maildir)/tmp") == [])
    }
}
