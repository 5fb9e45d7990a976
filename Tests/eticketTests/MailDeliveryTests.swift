import Foundation
import Postgres
import SMTPTestRelay
import TestSupport
import Testing

/// `eticket outbox send` against a real relay (aiosmtpd with STARTTLS and AUTH): each message
/// arrives once and parses; a 4xx is retried, a 5xx fails, a cut or silent connection defers;
/// killed at many points, nothing is lost and only the messages in flight come twice.
@Suite("Mail delivery to a real relay", .serialized, .tags(.e2e, .chaos))
struct MailDeliveryTests {
    func send(_ config: String, _ conninfo: String, _ extra: [String] = []) throws -> CLI.Result {
        try CLI.run(["outbox", "send", "--config", config, "--database-url", conninfo] + extra)
    }

    /// Moves the decision clock two hours on, so that deferred messages fall due.
    func moveClockOn(_ conninfo: String, hours: Int = 2) throws {
        let instant = try #require(ISO8601DateFormatter().date(from: Databases.storyInstant))
        try TestDatabases.pinDecisionClock(
            conninfo, at: ISO8601DateFormatter().string(from: instant.addingTimeInterval(Double(hours) * 3600)))
    }

    @Test func everyMessageArrivesOnceAndParses() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let database = Database(conninfo: conninfo)
        let relay = try TestRelay()
        let result = try send(try relay.configFile(), conninfo, ["--connections", "4"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let expected = try database.strings("SELECT '<' || message_id || '>' FROM email_outbox ORDER BY 1")
        #expect(expected.count >= 300)
        #expect(result.stdout.hasPrefix("\(expected.count) messages sent, 0 deferred, 0 failed"), "\(result.stdout)")
        let received = relay.received
        #expect(received.map(\.messageID).sorted() == expected)
        #expect(received.allSatisfy { $0.defects.isEmpty && $0.parts == ["multipart/alternative", "text/plain", "text/html"] })
        // Each went to its own recipient, from its structure's address.
        let envelopes = Set(
            try database.strings("SELECT '<' || message_id || '> ' || sender || ' ' || recipient FROM email_outbox"))
        #expect(Set(received.map { "\($0.messageID) \($0.mailFrom) \($0.rcptTos.joined())" }) == envelopes)
        #expect(
            try database.count("SELECT count(*) FROM email_outbox WHERE delivery <> 'sent' OR delivery_reply NOT LIKE '250 %'")
                == 0)
        #expect(
            try database.count("SELECT count(*) FROM email_outbox WHERE exported_at IS NOT NULL") == 0, "sending is not exporting"
        )
        // Nothing is due any more: a second run sends nothing.
        let again = try send(try relay.configFile(), conninfo)
        #expect(again.status == 0 && again.stdout.hasPrefix("0 messages sent"), "\(again.stdout)")
        #expect(relay.received.count == expected.count)

        // The states reach the administrators' views and the metrics.
        let stats = try CLI.succeed(["queue", "stats", "--format", "prometheus"], database: conninfo).stdout
        #expect(
            stats.contains("eticket_outbox_delivery{structure=\"villefranche\",state=\"sent\"} \(expected.count)"), "\(stats)")
        let show = try CLI.succeed(["dossier", "show", "OUT-1"], database: conninfo).stdout
        #expect(show.contains("Emails") && show.contains("sent"), "\(show)")
    }

    @Test func aTransientReplyIsRetriedWhenDueAndAPermanentOneFails() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let database = Database(conninfo: conninfo)
        // The load's families share one address: one message goes to an address the relay refuses.
        // Only the owner can point an email elsewhere, with the guard of migration 027 switched off.
        let refused = "refus@example.org"
        let owner = try Connection(conninfo)
        defer { owner.close() }
        try owner.execute(
            script: """
                BEGIN;
                ALTER TABLE email_outbox DISABLE TRIGGER email_outbox_readdressed;
                UPDATE email_outbox SET recipient = '\(refused)' WHERE id = (SELECT min(id) FROM email_outbox);
                ALTER TABLE email_outbox ENABLE TRIGGER email_outbox_readdressed;
                COMMIT
                """)
        let refusedCount = 1
        let total = try database.count("SELECT count(*) FROM email_outbox")
        let relay = try TestRelay(behaviours: ["--defer-first", "3", "--reject-rcpt", refused])
        let config = try relay.configFile()
        let first = try send(config, conninfo, ["--connections", "1"])
        #expect(first.status == 5, "done with failures: \(first.stdout) \(first.stderr)")
        #expect(
            first.stdout.hasPrefix("\(total - refusedCount - 3) messages sent, 3 deferred, \(refusedCount) failed"),
            "\(first.stdout)")
        #expect(
            try database.count("SELECT count(*) FROM email_outbox WHERE delivery = 'failed' AND delivery_reply LIKE '550 5.1.1%'")
                == refusedCount)
        #expect(
            try database.count(
                """
                SELECT count(*) FROM email_outbox WHERE delivery = 'deferred' AND delivery_reply LIKE '%451 4.3.0%'
                AND delivery_attempts = 1 AND next_attempt_at > '\(Databases.storyInstant)'
                """) == 3)
        // Not due yet: nothing is offered.
        let early = try send(config, conninfo)
        #expect(early.status == 0 && early.stdout.hasPrefix("0 messages sent"), "\(early.stdout)")
        try moveClockOn(conninfo)
        let later = try send(config, conninfo)
        #expect(
            later.status == 0 && later.stdout.hasPrefix("3 messages sent, 0 deferred, 0 failed"),
            "\(later.stdout) \(later.stderr)")
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE delivery = 'sent' AND delivery_attempts = 2") == 3)
        let ids = relay.received.map(\.messageID)
        #expect(ids.count == total - refusedCount && Set(ids).count == ids.count)
        // A failed message is shown to the administrator with the relay's reply.
        let stats = try CLI.succeed(["queue", "stats"], database: conninfo).stdout
        #expect(stats.contains("\(refusedCount) failed"), "\(stats)")
    }

    /// A message above smtp.maxMessageBytes is failed at once, with the reason, and never offered
    /// again: every attempt would be refused the same way.
    @Test func aMessageAboveTheSizeCapFailsWithoutBeingOffered() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let database = Database(conninfo: conninfo)
        // The messages as the sender renders them: exported to files (exporting is not sending).
        let files = TestFiles.directory.appendingPathComponent("sizes-\(UUID().uuidString)").path
        _ = try CLI.succeed(["outbox", "export", "--format", "eml", "--to", files], database: conninfo)
        let sizes = try FileManager.default.contentsOfDirectory(atPath: files).map { name in
            try FileManager.default.attributesOfItem(atPath: "\(files)/\(name)")[.size] as? Int ?? 0
        }
        let largest = try #require(sizes.max())
        let over = sizes.filter { $0 == largest }.count
        let total = try database.count("SELECT count(*) FROM email_outbox")
        let relay = try TestRelay()
        let config = try relay.configFile(["maxMessageBytes": largest - 1])
        let first = try send(config, conninfo, ["--connections", "1"])
        #expect(first.status == 5, "\(first.stdout) \(first.stderr)")
        #expect(first.stdout.hasPrefix("\(total - over) messages sent, 0 deferred, \(over) failed"), "\(first.stdout)")
        #expect(
            try database.count(
                """
                SELECT count(*) FROM email_outbox WHERE delivery = 'failed' AND delivery_attempts = 1
                AND delivery_reply LIKE '552 5.3.4 not offered to the relay: the message is \(largest) bytes, above smtp.maxMessageBytes%'
                """) == over)
        #expect(relay.received.count == total - over)
        try moveClockOn(conninfo)
        let again = try send(config, conninfo)
        #expect(again.status == 0 && again.stdout.hasPrefix("0 messages sent"), "parked, not retried: \(again.stdout)")
        // A cap that is not a positive number is refused before anything is sent, naming the key.
        let zero = try send(try relay.configFile(["maxMessageBytes": 0]), conninfo)
        #expect(zero.status == 3 && zero.stderr.contains("smtp.maxMessageBytes"), "\(zero.stderr)")
    }

    @Test func aConnectionCutInDataOrASilentRelayDefersTheMessageInFlight() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let database = Database(conninfo: conninfo)
        let total = try database.count("SELECT count(*) FROM email_outbox")
        let relay = try TestRelay(behaviours: ["--cut-data", "5", "--silent-data-end", "9"])
        let config = try relay.configFile(["commandTimeoutSeconds": 1])
        let first = try send(config, conninfo, ["--connections", "2"])
        #expect(first.status == 5, "\(first.stdout) \(first.stderr)")
        let replies = try database.strings("SELECT delivery_reply FROM email_outbox WHERE delivery = 'deferred'")
        #expect(first.stdout.hasPrefix("\(total - 2) messages sent, 2 deferred, 0 failed"), "\(first.stdout) \(replies)")
        #expect(
            try database.count(
                "SELECT count(*) FROM email_outbox WHERE delivery = 'deferred' AND delivery_reply LIKE '%connection lost%'") == 1)
        #expect(
            try database.count(
                "SELECT count(*) FROM email_outbox WHERE delivery = 'deferred' AND delivery_reply LIKE '%no reply within the timeout%'"
            ) == 1)
        try moveClockOn(conninfo)
        let later = try send(config, conninfo)
        #expect(later.status == 0, "\(later.stdout) \(later.stderr)")
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE delivery <> 'sent'") == 0)
        // The silent relay may have kept the message it never answered: that one may come twice,
        // with its one Message-ID; every other message came once.
        let counts = Dictionary(relay.received.map { ($0.messageID, 1) }, uniquingKeysWith: +)
        #expect(counts.count == total)
        #expect(counts.values.filter { $0 > 1 }.count <= 1)
    }

    @Test func anUnusableRelayChangesNothingAndSaysWhy() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let database = Database(conninfo: conninfo)
        let relay = try TestRelay()
        let wrong = try send(try relay.configFile(credentials: (TestRelay.username, "not the password")), conninfo)
        #expect(wrong.status == 69, "\(wrong.stdout) \(wrong.stderr)")
        #expect(wrong.stderr.contains("refused AUTH") && wrong.stderr.contains("smtp.credentialsFile"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("not the password"))
        let hole = try TestRelay(behaviours: ["--black-hole"])
        let silent = try send(try hole.configFile(["connectTimeoutSeconds": 1]), conninfo)
        #expect(silent.status == 69 && silent.stderr.contains("timed out"), "\(silent.stderr)")
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE delivery <> 'pending' OR delivery_attempts > 0") == 0)
        #expect(relay.count("MAIL") == 0)

        // Configuration refused before anything is tried, with the key to fix.
        let none = try send(try relay.configFile(["tls": "none", "host": "smtp.example.org"]), conninfo)
        #expect(none.status == 3 && none.stderr.contains("smtp.tls none"), "\(none.stderr)")
        let config = try relay.configFile()
        let credentials = try #require(
            (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: config))) as? [String: [String: Any]])?[
                "smtp"]?[
                    "credentialsFile"] as? String)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: credentials)
        let open = try send(config, conninfo)
        #expect(open.status == 3 && open.stderr.contains("mode 644"), "\(open.stderr)")
        let unconfigured = try CLI.run(["outbox", "send", "--database-url", conninfo])
        #expect(unconfigured.status == 3 && unconfigured.stderr.contains("smtp.host"), "\(unconfigured.stderr)")
    }

    /// The sender SIGKILLed at many points (during the session's setup, between MAIL and DATA,
    /// right after the relay's 250): nothing lost; the only duplicates are messages in flight at a
    /// kill, the relay holding them and the outbox not yet marking them sent; each with its
    /// one Message-ID.
    @Test func killedAtManyPointsNothingIsLostAndOnlyMessagesInFlightComeTwice() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let database = Database(conninfo: conninfo)
        let expected = Set(try database.strings("SELECT '<' || message_id || '>' FROM email_outbox"))
        let relay = try TestRelay()
        let config = try relay.configFile()
        var inFlight: Set<String> = []
        var kills = 0
        let points = ["EHLO", "AUTH", "MAIL", "RCPT", "DATA-END", "ACCEPTED"]
        var finished = false
        for round in 0..<40 where !finished {
            let point = points[round % points.count]
            let target = relay.count(point) + 1 + round % 7
            let run = try Child(["outbox", "send", "--connections", "4", "--config", config, "--database-url", conninfo])
            defer { run.kill() }
            let reached = relay.wait(timeout: 60, while: { run.isRunning }, until: { relay.count(point) >= target })
            if reached, run.isRunning {
                run.signal(SIGKILL)
                kills += 1
            }
            let result = run.wait(timeout: 60)
            if !result.signaled {
                #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
                finished = try database.count("SELECT count(*) FROM email_outbox WHERE delivery = 'pending'") == 0
            }
            // In flight: taken by the relay, not marked sent when the sender died. The relay
            // records a message after its DATA-END (it parses it first): wait until each is
            // recorded, or a message taken as the sender died would be missed here.
            _ = relay.wait(timeout: 60, until: { relay.count("ACCEPTED") >= relay.count("DATA-END") })
            let sent = Set(try database.strings("SELECT '<' || message_id || '>' FROM email_outbox WHERE delivery = 'sent'"))
            inFlight.formUnion(Set(relay.received.map(\.messageID)).subtracting(sent))
        }
        if !finished {
            let last = try send(config, conninfo)
            #expect(last.status == 0, "\(last.stdout) \(last.stderr)")
        }
        #expect(kills >= 10, "the sender was killed \(kills) times")
        #expect(try database.count("SELECT count(*) FROM email_outbox WHERE delivery <> 'sent'") == 0)
        let counts = Dictionary(relay.received.map { ($0.messageID, 1) }, uniquingKeysWith: +)
        #expect(Set(counts.keys) == expected, "every message arrived")
        let twice = Set(counts.filter { $0.value > 1 }.keys)
        #expect(twice.isSubset(of: inFlight), "duplicates not in flight: \(twice.subtracting(inFlight).prefix(5))")
        // At most one message in flight per connection at each kill.
        #expect(counts.values.reduce(0, +) - counts.count <= kills * 4)
        print("outbox send killed \(kills) times: \(expected.count) messages, \(twice.count) sent twice (in flight at a kill)")
    }

    @Test func theBatchRunSendsAfterProcessing() throws {
        let conninfo = try Databases.withLoad()
        let database = Database(conninfo: conninfo)
        let relay = try TestRelay()
        let metrics = relay.directory.appendingPathComponent("batch.prom").path
        let run = try CLI.run([
            "batch", "run", "--max-duration", "5m", "--send", "--config", try relay.configFile(), "--metrics-file", metrics,
            "--database-url", conninfo,
        ])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let emails = try database.count("SELECT count(*) FROM email_outbox")
        #expect(emails > 0 && relay.received.count == emails)
        #expect(run.stdout.contains("emails sent") && run.stdout.contains("\(emails)"), "\(run.stdout)")
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains("eticket_batch_emails_delivery{outcome=\"sent\"} \(emails)"), "\(text)")
        #expect(text.contains("eticket_batch_relay_unavailable 0"), "\(text)")

        // A relay that refuses the session: the run still processed, and says why it could not send.
        let more = try Databases.withLoad()
        let refused = try CLI.run([
            "batch", "run", "--send", "--config", try relay.configFile(credentials: ("nobody", "wrong")), "--metrics-file",
            metrics, "--database-url", more,
        ])
        #expect(refused.status == 69 && refused.stderr.contains("refused AUTH"), "\(refused.stderr)")
        #expect(try Database(conninfo: more).count("SELECT count(*) FROM dossier_queue") == 0)
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains("eticket_batch_relay_unavailable 1"))
    }

    /// An attacker inside the database: no role but the sender's marks delivery, and a sent
    /// message is never put back to be sent again.
    @Test func onlyTheSenderMarksDeliveryAndASentMessageStaysSent() throws {
        let conninfo = try OutboxExportTests.pendingOutbox()
        let connection = try Connection(conninfo)
        defer { connection.close() }
        func refused(_ role: String, _ sql: String) -> String? {
            do {
                try connection.execute(script: "BEGIN; SET LOCAL ROLE \(role); \(sql)")
                try connection.execute(script: "ROLLBACK")
                return nil
            } catch {
                try? connection.execute(script: "ROLLBACK")
                return "\(error)"
            }
        }
        let id = try #require(try connection.query("SELECT min(id) AS id FROM email_outbox").first?.decode(Int64.self, "id"))
        for role in ["eticket_worker", "eticket_admin", "eticket_intake"] {
            let error = refused(
                role,
                "UPDATE email_outbox SET delivery = 'failed', delivery_reply = 'x', delivery_attempts = 1, last_attempt_at = now() WHERE id = \(id)"
            )
            #expect(error?.contains("permission denied") == true, "\(role): \(error ?? "allowed")")
        }
        // Sent, the message is final, even for the sender's role.
        try connection.execute(
            script:
                "UPDATE email_outbox SET delivery = 'sent', delivered_at = now(), delivery_reply = '250 ok', delivery_attempts = 1, last_attempt_at = now() WHERE id = \(id)"
        )
        let back = refused("eticket_batch", "UPDATE email_outbox SET delivery = 'pending', delivered_at = NULL WHERE id = \(id)")
        #expect(back?.contains("never changes") == true, "\(back ?? "allowed")")
        let reply = refused("eticket_batch", "UPDATE email_outbox SET delivery_reply = 'forged' WHERE id = \(id)")
        #expect(reply?.contains("never changes") == true, "\(reply ?? "allowed")")
        // A state without what it means is refused: without the attempt it records (migration 028),
        // and, for the owner whom that rule does not bind, without its time and reply (018's check).
        let bare = refused("eticket_batch", "UPDATE email_outbox SET delivery = 'sent' WHERE id = \(id + 1)")
        #expect(bare?.contains("one more attempt") == true, "\(bare ?? "allowed")")
        let bareByOwner = refused(
            "eticket_batch", "RESET ROLE; UPDATE email_outbox SET delivery = 'sent' WHERE id = \(id + 1)")
        #expect(bareByOwner?.contains("email_outbox_delivery_consistent") == true, "\(bareByOwner ?? "allowed")")
    }
}
