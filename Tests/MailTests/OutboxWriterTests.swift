import Dossiers
import Foundation
import Testing

@testable import Mail

/// Three messages as the exporter would hand them over; the last has a body line starting with
/// `From ` and one with `>From `, raw, to exercise mboxrd quoting.
private func batch() throws -> [OutboxMessage] {
    let library = try Fixtures.library()
    var messages: [OutboxMessage] = []
    for (index, name) in ["Zoé", "محمد", "李"].enumerated() {
        let email = try library.render(
            .dossierProcessed, context: Fixtures.context(outcome: .returned, firstName: name, reasons: ["Motif"]),
            messageID: "msg-\(index)@lafayette.example", date: Fixtures.date)
        messages.append(OutboxMessage(id: "row-\(index)", email: email, createdAt: Fixtures.date))
    }
    let raw =
        "From: a@b.example\r\nTo: c@d.example\r\nSubject: raw\r\nMessage-ID: <raw@b.example>\r\n\r\n"
        + "From the start\r\n>From quoted\r\n>>From twice\r\nFromage\r\n"
    messages.append(
        OutboxMessage(
            id: "row/3 odd:id", messageID: "raw@b.example", from: "a@b.example", to: "c@d.example", subject: "raw",
            text: "From the start", html: "", headers: [EmailHeader(name: "Subject", value: "raw")],
            bytes: Array(raw.utf8), createdAt: Fixtures.date))
    return messages
}

private func mode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require(attributes[.posixPermissions] as? Int)
}

private func files(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

private func read(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Splits an mboxrd file on its `From ` lines and un-quotes `>From ` lines.
private func mboxMessages(_ path: String) throws -> [(fromLine: String, body: String)] {
    let text = String(decoding: try read(path), as: UTF8.self)
    var messages: [(String, [String])] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("From ") {
            messages.append((String(line), []))
        } else if !messages.isEmpty {
            var unquoted = String(line)
            if line.drop(while: { $0 == ">" }).hasPrefix("From "), line.hasPrefix(">") { unquoted.removeFirst() }
            messages[messages.count - 1].1.append(unquoted)
        }
    }
    // Each entry ends with the blank separator line and the final newline's empty split.
    return messages.map { entry in
        var lines = entry.1
        while lines.last == "" { lines.removeLast() }
        return (entry.0, lines.joined(separator: "\n") + "\n")
    }
}

private func lfText(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
}

@Suite struct OutboxWriterTests {
    @Test func maildirWritesIntoNewOnceAndPrivately() throws {
        let root = try Fixtures.temporaryDirectory()
        let path = root + "/Maildir"
        let writer = try makeOutboxWriter(.maildir, path: path)
        let messages = try batch()
        try writer.write(messages)
        try writer.write(messages) // a rerun after a crash before the rows were marked
        #expect(try files(path) == ["cur", "new", "tmp"])
        #expect(try files(path + "/tmp") == [])
        let names = try files(path + "/new")
        #expect(names.count == messages.count)
        for message in messages {
            let name = try MaildirWriter.fileName(for: message)
            #expect(!name.contains("/") && !name.contains(":"))
            #expect(try read("\(path)/new/\(name)") == message.bytes)
            #expect(try mode("\(path)/new/\(name)") == 0o600)
        }
        for directory in [path, "\(path)/new", "\(path)/cur", "\(path)/tmp"] { #expect(try mode(directory) == 0o700) }

        // A reader moved one to cur/ with flags: writing again does not bring it back to new/.
        let first = try MaildirWriter.fileName(for: messages[0])
        try FileManager.default.moveItem(atPath: "\(path)/new/\(first)", toPath: "\(path)/cur/\(first):2,S")
        try writer.write(messages)
        #expect(try files(path + "/new").count == messages.count - 1)
    }

    @Test(.enabled(if: MessageInspection.pythonAvailable, "python3 with its email package is not installed"))
    func maildirMessagesParse() throws {
        let path = try Fixtures.temporaryDirectory() + "/Maildir"
        let messages = Array(try batch().prefix(3))
        try makeOutboxWriter(.maildir, path: path).write(messages)
        for message in messages {
            let bytes = try read("\(path)/new/\(try MaildirWriter.fileName(for: message))")
            let parsed = try MessageInspection.parseWithPython(bytes)
            #expect((parsed["defects"] as? [String]) == [])
            #expect(parsed["message_id"] as? String == "<\(message.messageID)>")
            #expect(parsed["subject"] as? String == message.subject)
        }
    }

    @Test func emlWritesOneFilePerIDOnce() throws {
        let path = try Fixtures.temporaryDirectory() + "/eml"
        let writer = try makeOutboxWriter(.eml, path: path)
        let messages = try batch()
        try writer.write(messages)
        try writer.write(messages)
        let names = try files(path)
        #expect(names.count == messages.count)
        #expect(names.allSatisfy { $0.hasSuffix(".eml") && !$0.hasPrefix(".") })
        for message in messages {
            let file = "\(path)/\(try EMLWriter.fileName(for: message))"
            #expect(try read(file) == message.bytes)
            #expect(try mode(file) == 0o600)
        }
        #expect(try mode(path) == 0o700)
        #expect(throws: MailError.self) {
            try writer.write([
                OutboxMessage(
                    id: "no-message-id",
                    email: RenderedEmail(
                        messageID: "", from: "", to: "", subject: "", text: "", html: "", headers: [], bytes: []),
                    createdAt: Fixtures.date)
            ])
        }
    }

    @Test func mboxIsMboxrdAndNeverDuplicates() throws {
        let path = try Fixtures.temporaryDirectory() + "/out/outbox.mbox"
        let writer = try makeOutboxWriter(.mbox, path: path)
        let messages = try batch()
        try writer.write(Array(messages.prefix(2)))
        try writer.write(messages) // the first two again, with two new ones
        try writer.write(messages)

        let read = try mboxMessages(path)
        #expect(read.count == messages.count)
        for (entry, message) in zip(read, messages) {
            #expect(entry.fromLine == "From \(message.from) Sat Nov 28 04:04:11 2026")
            #expect(entry.body == lfText(message.bytes))
        }
        let raw = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(raw.contains("\n>From the start\n>>From quoted\n>>>From twice\nFromage\n"))
        #expect(try mode(path) == 0o600)
        #expect(try mode((path as NSString).deletingLastPathComponent) == 0o700)
    }

    @Test func mboxCutsAnAppendACrashInterrupted() throws {
        let path = try Fixtures.temporaryDirectory() + "/outbox.mbox"
        let writer = try MboxWriter(path: path)
        let messages = try batch()
        try writer.write([messages[0]])
        // A crash in the middle of appending message 1: half of it reached the file, the batch
        // never returned, so its rows stay pending and are written again.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(MboxTestEntry.half(of: messages[1])))
        try handle.close()
        try writer.write([messages[1], messages[2]])

        let read = try mboxMessages(path)
        #expect(read.map(\.body) == messages.prefix(3).map { lfText($0.bytes) })
    }

    @Test func mboxTakenAwayStartsAgainAndCutsATornFirstAppend() throws {
        let path = try Fixtures.temporaryDirectory() + "/outbox.mbox"
        let writer = try MboxWriter(path: path)
        let messages = try batch()
        try writer.write([messages[0]])
        // The relay takes the file by renaming it; a later run creates a new file, appends half a
        // message and crashes before recording it.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".taken")
        try Data(MboxTestEntry.half(of: messages[1])).write(to: URL(fileURLWithPath: path))
        try writer.write([messages[1], messages[2]])

        #expect(try mboxMessages(path).map(\.body) == [messages[1], messages[2]].map { lfText($0.bytes) })
        #expect(try mboxMessages(path + ".taken").map(\.body) == [lfText(messages[0].bytes)])
    }

    @Test func jsonlHasOneObjectPerMessageOnce() throws {
        let path = try Fixtures.temporaryDirectory() + "/outbox.jsonl"
        let writer = try makeOutboxWriter(.jsonl, path: path)
        let messages = try batch()
        try writer.write(Array(messages.prefix(1)))
        // A torn append: part of a line, no newline.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"id\":\"row-1\",\"subj".utf8))
        try handle.close()
        try writer.write(messages)
        try writer.write(messages)

        let lines = try read(path).split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == messages.count)
        for (line, message) in zip(lines, messages) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            #expect(object["id"] as? String == message.id)
            #expect(object["message_id"] as? String == message.messageID)
            #expect(object["from"] as? String == message.from)
            #expect(object["to"] as? String == message.to)
            #expect(object["subject"] as? String == message.subject)
            #expect(object["text"] as? String == message.text)
            #expect(object["html"] as? String == message.html)
            #expect(object["created_at"] as? String == "2026-11-28T04:04:11Z")
            let headers = try #require(object["headers"] as? [[String: String]])
            #expect(headers == message.headers.map { ["name": $0.name, "value": $0.value] })
        }
        #expect(try mode(path) == 0o600)
    }

    @Test func everyFormatHasAWriter() throws {
        let root = try Fixtures.temporaryDirectory()
        for format in OutboxFormat.allCases {
            let path = "\(root)/\(format.rawValue)"
            let writer = try makeOutboxWriter(format, path: path)
            try writer.write([])
            let message = try batch()[0]
            try writer.write([message])
            #expect(FileManager.default.fileExists(atPath: path))
        }
    }
}

enum MboxTestEntry {
    /// The first half of a message's mbox entry, as a crash mid-write would leave it.
    static func half(of message: OutboxMessage) -> [UInt8] {
        let entry = Array("From \(message.from) Sat Nov 28 04:04:11 2026\n".utf8) + Array(lfText(message.bytes).utf8)
        return Array(entry.prefix(entry.count / 2))
    }
}

@Suite struct MaildirWriterTests {
    private func messages(_ ids: Range<Int>) -> [OutboxMessage] {
        ids.map(message)
    }

    private func message(_ index: Int) -> OutboxMessage {
        OutboxMessage(
            id: String(index), messageID: "m\(index)@x.example", from: "a@x.example", to: "b@x.example",
            subject: "s", text: "t", html: "", headers: [],
            bytes: Array("Message-ID: <m\(index)@x.example>\r\n\r\nbody \(index)\r\n".utf8), createdAt: Fixtures.date)
    }

    private func name(_ index: Int) throws -> String { try MaildirWriter.fileName(for: message(index)) }

    @Test func aLargeCurIsListedOnceWhileItDoesNotChange() throws {
        let path = try Fixtures.temporaryDirectory() + "/Maildir"
        let writer = try MaildirWriter(path: path)
        // 5,000 messages a reader took long ago, among them ids 0..<10 of the batches below.
        for index in 0..<5_000 {
            let name = try name(index < 10 ? index : 100_000 + index)
            #expect(FileManager.default.createFile(atPath: "\(path)/cur/\(name):2,S", contents: Data()))
        }
        // The test cannot wait for cur/ to age: trust a listing at once.
        writer.delivered.settleSeconds = 0
        for start in stride(from: 0, to: 50, by: 10) { try writer.write(messages(start..<start + 10)) }
        #expect(writer.delivered.listings == 1)
        // What the reader took is not brought back; the rest is in new/.
        let new = Set(try FileManager.default.contentsOfDirectory(atPath: "\(path)/new"))
        #expect(new == Set(try (10..<50).map { try name($0) }))

        // A reader takes one more: cur/ changed, so it is listed again, and that one stays taken.
        let taken = try name(10)
        try FileManager.default.moveItem(atPath: "\(path)/new/\(taken)", toPath: "\(path)/cur/\(taken):2,S")
        try writer.write(messages(10..<20))
        #expect(writer.delivered.listings == 2)
        #expect(!FileManager.default.fileExists(atPath: "\(path)/new/\(taken)"))
        try writer.write(messages(20..<30))
        #expect(writer.delivered.listings == 2)
    }

    @Test func aFreshlyChangedCurIsListedEveryBatch() throws {
        let path = try Fixtures.temporaryDirectory() + "/Maildir"
        let writer = try MaildirWriter(path: path)
        // cur/ was just created: a change in the same clock tick would not move its ctime.
        try writer.write(messages(0..<2))
        try writer.write(messages(2..<4))
        #expect(writer.delivered.listings == 2)
    }

    @Test func aLeftoverTemporaryFileIsReplacedPrivately() throws {
        let path = try Fixtures.temporaryDirectory() + "/Maildir"
        let writer = try MaildirWriter(path: path)
        let message = messages(0..<1)[0]
        let name = try MaildirWriter.fileName(for: message)
        // A crashed run's half-written file, and someone's world-readable one.
        #expect(
            FileManager.default.createFile(
                atPath: "\(path)/tmp/\(name)", contents: Data("half".utf8), attributes: [.posixPermissions: 0o644]))
        try writer.write([message])
        #expect(try read("\(path)/new/\(name)") == message.bytes)
        #expect(try mode("\(path)/new/\(name)") == 0o600)
        #expect(try files("\(path)/tmp") == [])
    }

}

@Suite struct MboxEntryTests {
    /// What the entry was before it worked on bytes: through String, CRLF replaced, split on LF.
    private func stringEntry(_ message: OutboxMessage) -> [UInt8] {
        var output = Array("From \(message.from) \(RFC5322Date.asctime(message.createdAt))\n".utf8)
        var lines = String(decoding: message.bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines {
            if line.drop(while: { $0 == ">" }).hasPrefix("From ") { output.append(UInt8(ascii: ">")) }
            output += Array(line.utf8)
            output.append(UInt8(ascii: "\n"))
        }
        output.append(UInt8(ascii: "\n"))
        return output
    }

    @Test(arguments: [
        "", "\r\n", "a", "a\r", "a\r\nb", "a\r\nb\r\n", "a\n\n", "\r\n\r\n", "x\ry\r\nz",
        "From x\r\n>From y\r\n>>From z\r\nFromage\r\n",
        "From: a@b\r\nMessage-ID: <m@b>\r\n\r\nFrom the start\r\n  From indented\r\nZoé 李 محمد\r\n",
    ])
    func entryMatchesTheStringVersion(_ text: String) {
        let message = OutboxMessage(
            id: "1", messageID: "m@b", from: "a@b", to: "c@d", subject: "", text: "", html: "", headers: [],
            bytes: Array(text.utf8), createdAt: Date(timeIntervalSince1970: 0))
        #expect(MboxWriter.entry(for: message) == stringEntry(message))
    }

    @Test func messageIDsAreReadFromHeadersOnly() {
        let mbox = Array(
            ("From a Thu Jan  1 00:00:00 1970\nMessage-ID: <one@x>\nmessage-id:\t two@x \n\nMessage-ID: <body@x>\n\n"
                + "From b Thu Jan  1 00:00:00 1970\nSubject: s\nMESSAGE-ID:<three@x>\n\n>From c\nMessage-ID: <quoted@x>\n").utf8)
        #expect(MboxWriter.messageIDs(in: mbox) == ["one@x", "two@x", "three@x"])
        #expect(MboxWriter.messageIDs(in: []) == [])
    }
}
