import Foundation
import TestSupport
import Testing

/// `eticket outbox export` killed at many points and run again: every message once.
@Suite("Outbox export, exactly once", .serialized, .tags(.e2e, .chaos))
struct OutboxExportTests {
    /// A fresh database whose outbox holds about 300 pending messages.
    static func pendingOutbox() throws -> String {
        let databases = try TestDatabases.shared()
        let template = try databases.template(named: "e2e_outbox") { conninfo in
            try Databases.prepareStructures(conninfo)
            // 170 dossiers: 136 complete (two emails each), 34 returned (one) — 306 messages.
            try Databases.importLines(Load.lines(count: 170, prefix: "OUT"), into: conninfo)
            try CLI.succeed(["worker", "--once"], database: conninfo)
        }
        return try Databases.story(template: template)
    }

    /// An email that cannot be rendered (its particulars rewritten by hand) stays pending and is
    /// named; every other email is exported; the command says so with exit status 5.
    @Test func anUnrenderableEmailIsNamedAndTheRestExported() throws {
        let conninfo = try Self.pendingOutbox()
        let database = Database(conninfo: conninfo)
        let total = try database.count("SELECT count(*) FROM email_outbox")
        let broken = try database.count(
            """
            WITH broken AS (UPDATE email_outbox SET particulars = '{"dossier": 1}'
                            WHERE id = (SELECT min(id) FROM email_outbox) RETURNING id)
            SELECT id FROM broken
            """)
        let directory = TestFiles.directory.appendingPathComponent("unrenderable-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try CLI.run(["outbox", "export", "--format", "eml", "--to", directory, "--database-url", conninfo])
        #expect(result.status == 5, "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("\(total - 1) messages exported"), "\(result.stdout)")
        #expect(result.stderr.contains("1 message cannot be rendered, left pending: \(broken)"), "\(result.stderr)")
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL") == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count == total - 1)
    }

    @Test(arguments: ["maildir", "eml", "mbox", "jsonl"])
    func killedAndRunAgainEachMessageOnce(format: String) throws {
        try killAndRunAgain(format: format, batchSize: nil)
    }

    /// Many small batches, so that kills land between batches and while the next batch is read
    /// as this one is written.
    @Test(arguments: ["maildir", "jsonl"])
    func killedWithSmallBatchesEachMessageOnce(format: String) throws {
        try killAndRunAgain(format: format, batchSize: 7)
    }

    func killAndRunAgain(format: String, batchSize: Int?) throws {
        let conninfo = try Self.pendingOutbox()
        let database = Database(conninfo: conninfo)
        let expected = try database.strings("SELECT message_id FROM email_outbox").map(normalized)
        #expect(expected.count >= 300)
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL") == expected.count)

        let directory = TestFiles.directory.appendingPathComponent("eticket-e2e-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path: String
        switch format {
        case "mbox": path = directory.appendingPathComponent("outbox.mbox").path
        case "jsonl": path = directory.appendingPathComponent("outbox.jsonl").path
        default: path = directory.appendingPathComponent(format).path
        }
        let arguments =
            ["outbox", "export", "--format", format, "--to", path, "--database-url", conninfo]
            + (batchSize.map { ["--batch-size", String($0)] } ?? [])

        // Kill it later and later, each run starting over the previous one's leftovers.
        var kills: [String] = []
        var finished: CLI.Result?
        // The first kills land while it starts; from about 300 ms (debug build, 2 cores) it is writing.
        for delay in [0, 20, 50, 100, 150, 200] + Array(stride(from: 250, to: 3000, by: 60)) {
            let run = try Child(arguments)
            defer { run.kill() }
            usleep(useconds_t(delay * 1000))
            run.signal(SIGKILL)
            let result = run.wait(timeout: 60)
            if !result.signaled {
                #expect(result.status == 0, "\(result.stderr)")
                finished = result
                kills.append("\(delay) ms: finished")
                break
            }
            let marked = try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NOT NULL")
            let written = try readBack(format: format, path: path, withUncommittedTail: false)
            kills.append("\(delay) ms: killed (\(written.count) in output, \(marked) marked)")
        }
        if finished == nil { finished = try CLI.run(arguments) }
        #expect(finished?.status == 0 && finished?.signaled == false, "\(finished?.stderr ?? "")")
        // Once more: nothing is pending, nothing is added.
        let again = try CLI.run(arguments)
        #expect(again.status == 0 && again.stdout.hasPrefix("0 messages"), "\(again.stdout) \(again.stderr)")
        print("export \(format) (batch \(batchSize ?? 2000)) of \(expected.count): \(kills.joined(separator: "; "))")

        let found = try readBack(format: format, path: path)
        #expect(found.count == expected.count)
        let counts = Dictionary(found.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(counts.filter { $0.value > 1 }.isEmpty, "duplicates: \(counts.filter { $0.value > 1 }.keys.prefix(5))")
        let missing = Set(expected).subtracting(found)
        let unexpected = Set(found).subtracting(expected)
        #expect(missing.isEmpty && unexpected.isEmpty, "\(missing.count) missing, unexpected: \(unexpected.prefix(5))")
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NULL") == 0)
    }

    /// The Message-IDs in the output, one per message found.
    ///
    /// A SIGKILL can cut a write short (Linux stops copying pages once a fatal signal is pending),
    /// leaving part of a JSON line after the last committed one, which the next run truncates.
    /// Between kills, `withUncommittedTail: false` leaves such an unfinished last line out; the
    /// final read keeps it, so that one left behind fails the test.
    func readBack(format: String, path: String, withUncommittedTail: Bool = true) throws -> [String] {
        let manager = FileManager.default
        switch format {
        case "maildir", "eml":
            let directory = format == "maildir" ? "\(path)/new" : path
            guard manager.fileExists(atPath: directory) else { return [] }
            return try manager.contentsOfDirectory(atPath: directory)
                .filter { !$0.hasPrefix(".") }
                .map { name in
                    let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)")), as: UTF8.self)
                    return messageID(inHeadersOf: text) ?? "(none in \(name))"
                }
        case "mbox":
            guard let data = manager.contents(atPath: path) else { return [] }
            var entries: [String] = []
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("From ") {
                    entries.append("")
                } else if !entries.isEmpty {
                    entries[entries.count - 1] += line + "\n"
                }
            }
            return entries.map { messageID(inHeadersOf: $0) ?? "(none)" }
        default:
            guard let data = manager.contents(atPath: path) else { return [] }
            var lines = data.split(separator: UInt8(ascii: "\n"))
            if !withUncommittedTail, data.last != UInt8(ascii: "\n"), !lines.isEmpty { lines.removeLast() }
            return try lines.map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                return normalized((object?["message_id"] as? String) ?? "(none)")
            }
        }
    }

    func messageID(inHeadersOf message: String) -> String? {
        // By lines, CRLF ones included ("\r\n" is one Character, so not split on "\n").
        for line in message.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { return nil }
            if line.lowercased().hasPrefix("message-id:") {
                return normalized(String(line.dropFirst("message-id:".count)))
            }
        }
        return nil
    }

    func normalized(_ id: String) -> String {
        id.trimmingCharacters(in: CharacterSet(charactersIn: "<> \t\r\n"))
    }
}
