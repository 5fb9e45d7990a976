import Foundation
import SMTPTestRelay
import Testing

@testable import SMTP

/// The libcurl session against a real relay (aiosmtpd), each verdict as the relay gives it.
@Suite("SMTP session against a real relay")
struct SMTPSessionTests {
    static func settings(_ relay: TestRelay, password: String = TestRelay.password, commandTimeout: Duration = .seconds(5))
        throws -> RelaySettings
    {
        let credentials = relay.directory.appendingPathComponent("credentials-\(UUID().uuidString).json").path
        let body = try JSONSerialization.data(withJSONObject: ["username": TestRelay.username, "password": password])
        _ = FileManager.default.createFile(atPath: credentials, contents: body, attributes: [.posixPermissions: 0o600])
        return RelaySettings(
            host: "127.0.0.1", port: relay.port, security: RelaySettings.Security(rawValue: relay.security.rawValue)!,
            credentialsFile: credentials, caFile: relay.security == .none ? nil : TestRelay.certificate,
            connectTimeout: .seconds(5), commandTimeout: commandTimeout)
    }

    static func message(_ number: Int, to: String = "famille@example.org") -> [UInt8] {
        Array(
            """
            From: enfance@villefranche.example\r
            To: \(to)\r
            Subject: message \(number)\r
            Message-ID: <m\(number)@villefranche.example>\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Bonjour,\r
            .une ligne qui commence par un point\r
            \r

            """.utf8)
    }

    @Test(arguments: [TestRelay.Security.starttls, .tls])
    func messagesArriveOnOneConnection(security: TestRelay.Security) throws {
        let relay = try TestRelay(security: security)
        let session = try SMTPSession(try Self.settings(relay))
        for number in 1...3 {
            let outcome = try session.send(
                from: "enfance@villefranche.example", to: "famille@example.org", message: Self.message(number))
            guard case .accepted(let reply) = outcome else {
                Issue.record("message \(number): \(outcome)")
                continue
            }
            #expect(reply.code == 250 && reply.description.contains("queued as \(number)"))
        }
        #expect(
            relay.received.map(\.messageID) == [
                "<m1@villefranche.example>", "<m2@villefranche.example>", "<m3@villefranche.example>",
            ])
        #expect(relay.received.allSatisfy { $0.defects.isEmpty && $0.rcptTos == ["famille@example.org"] })
        #expect(relay.count("AUTH") == 1, "one connection, authenticated once: \(relay.events)")
    }

    @Test func aTransientReplyDefersAndAPermanentOneRejects() throws {
        let relay = try TestRelay(behaviours: ["--defer-first", "1", "--reject-rcpt", "refus@example.org"])
        let session = try SMTPSession(try Self.settings(relay))
        let first = try session.send(from: "a@example.org", to: "famille@example.org", message: Self.message(1))
        guard case .deferred(_, let reply) = first else {
            Issue.record("\(first)")
            return
        }
        #expect(reply?.code == 451)
        let refused = try session.send(from: "a@example.org", to: "refus@example.org", message: Self.message(2))
        guard case .rejected(let rejection) = refused else {
            Issue.record("\(refused)")
            return
        }
        #expect(rejection.code == 550 && rejection.enhancedStatus == "5.1.1")
        let third = try session.send(from: "a@example.org", to: "famille@example.org", message: Self.message(3))
        guard case .accepted = third else {
            Issue.record("\(third)")
            return
        }
    }

    @Test func aConnectionCutInDataDefersAndTheNextMessageGoesThrough() throws {
        let relay = try TestRelay(behaviours: ["--cut-data", "1"])
        let session = try SMTPSession(try Self.settings(relay))
        let cut = try session.send(from: "a@example.org", to: "famille@example.org", message: Self.message(1))
        guard case .deferred(let reason, nil) = cut else {
            Issue.record("\(cut)")
            return
        }
        #expect(reason.contains("connection lost") || reason.contains("DATA"), "\(reason)")
        let next = try session.send(from: "a@example.org", to: "famille@example.org", message: Self.message(2))
        guard case .accepted = next else {
            Issue.record("\(next)")
            return
        }
        #expect(relay.received.map(\.messageID) == ["<m2@villefranche.example>"])
    }

    @Test func aRelayThatStopsAnsweringTimesOut() throws {
        let relay = try TestRelay(behaviours: ["--silent-data-end", "1"])
        let session = try SMTPSession(try Self.settings(relay, commandTimeout: .seconds(1)))
        let silent = try session.send(from: "a@example.org", to: "famille@example.org", message: Self.message(1))
        guard case .deferred(let reason, nil) = silent else {
            Issue.record("\(silent)")
            return
        }
        #expect(reason.contains("no reply within the timeout"), "\(reason)")
        #expect(relay.count("SILENT") == 1)
    }

    /// The error `body` throws, if it is an ``SMTPError``.
    static func smtpError(_ body: () throws -> Void) -> SMTPError? {
        do {
            try body()
            return nil
        } catch {
            return error as? SMTPError
        }
    }

    @Test func aSilentRelayIsUnreachableAndAWrongPasswordRefused() throws {
        let hole = try TestRelay(behaviours: ["--black-hole"])
        var settings = try Self.settings(hole)
        settings.connectTimeout = .seconds(1)
        let silent = Self.smtpError {
            _ = try SMTPSession(settings).send(from: "a@example.org", to: "b@example.org", message: Self.message(1))
        }
        #expect(silent?.code == .unreachable && silent?.message.contains("timed out") == true, "\(String(describing: silent))")

        let relay = try TestRelay()
        let wrong = try Self.settings(relay, password: "wrong")
        let refused = Self.smtpError {
            _ = try SMTPSession(wrong).send(from: "a@example.org", to: "b@example.org", message: Self.message(1))
        }
        #expect(refused?.code == .refused && refused?.message.contains("AUTH") == true, "\(String(describing: refused))")
        #expect(refused?.message.contains("wrong") == false)
        #expect(relay.count("MAIL") == 0)
    }

    @Test func theProbeWalksTheSessionWithoutSending() throws {
        let relay = try TestRelay()
        let steps = MailRelay.probe(try Self.settings(relay))
        #expect(steps.map(\.name) == ["connect", "greeting", "EHLO", "STARTTLS", "TLS", "EHLO", "AUTH"], "\(steps)")
        #expect(steps.allSatisfy { $0.passed }, "\(steps)")
        #expect(steps.first { $0.name == "TLS" }?.detail.contains("certificate verified") == true, "\(steps)")
        #expect(relay.count("MAIL") == 0)

        let refused = MailRelay.probe(try Self.settings(relay, password: "wrong"))
        #expect(refused.last?.name == "AUTH" && refused.last?.passed == false, "\(refused)")
        #expect(refused.dropLast().allSatisfy { $0.passed })

        var untrusted = try Self.settings(relay)
        untrusted.caFile = nil // the system's CAs do not know the test certificate
        let tls = MailRelay.probe(untrusted)
        #expect(tls.last?.passed == false && tls.contains { $0.detail.contains("certificate") }, "\(tls)")
    }

    @Test func settingsThatWouldLeakAreRefused() throws {
        #expect(throws: SMTPError.self) { try RelaySettings(host: "smtp.example.org", security: .none).validate() }
        try RelaySettings(host: "localhost", security: .none).validate()
        try RelaySettings(host: "127.0.0.1", security: .none).validate()
        let open = TestFilesDirectory.make().appendingPathComponent("open.json").path
        _ = FileManager.default.createFile(
            atPath: open, contents: Data(#"{"username":"u","password":"p"}"#.utf8), attributes: [.posixPermissions: 0o644])
        let refused = Self.smtpError { _ = try SMTPSession(RelaySettings(host: "127.0.0.1", credentialsFile: open)) }
        #expect(
            refused?.code == .configuration && refused?.message.contains("mode 644") == true, "\(String(describing: refused))")
        let steps = MailRelay.probe(RelaySettings(host: "127.0.0.1", credentialsFile: open))
        #expect(steps.count == 1 && steps[0].name == "configuration" && !steps[0].passed)
    }
}

enum TestFilesDirectory {
    static func make() -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("smtp-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Review: what a database login can write into the outbox (recipient, sender, message bytes)
/// must never become SMTP commands, a second recipient or a second message.
@Suite("SMTP session: hostile envelope and message")
struct SMTPHostileInputTests {
    @Test(arguments: [
        "famille@example.org>\r\nRCPT TO:<intrus@evil.example",
        "famille@example.org>\nRCPT TO:<intrus@evil.example",
        "famille@example.org> SIZE=1",
        "famill\u{e9}@example.org",
    ])
    func anAddressThatWouldInjectACommandIsRefusedBeforeTheRelay(recipient: String) throws {
        let relay = try TestRelay()
        let session = try SMTPSession(try SMTPSessionTests.settings(relay))
        let outcome = try session.send(from: "enfance@villefranche.example", to: recipient, message: SMTPSessionTests.message(1))
        guard case .rejected(let reply) = outcome else {
            Issue.record("\(outcome): \(relay.events)")
            return
        }
        #expect(reply.code == 501 && !reply.description.contains("\r") && !reply.description.contains("\n"))
        #expect(relay.received.isEmpty && relay.count("RCPT") == 0, "\(relay.events)")
        let hostileSender = try session.send(from: recipient, to: "famille@example.org", message: SMTPSessionTests.message(2))
        guard case .rejected = hostileSender else {
            Issue.record("\(hostileSender)")
            return
        }
        #expect(relay.received.isEmpty, "\(relay.events)")
    }

    /// A bare LF or CR before a dot is an end of DATA for some relays (SMTP smuggling): eticket's
    /// own messages are all CRLF, so a message with a bare one was not written by eticket.
    @Test(arguments: ["\n.\r\n", "\r\n.\n", "\r.\r\n", "\u{0}"])
    func aMessageWithABareLineEndIsRefusedBeforeTheRelay(smuggled: String) throws {
        let relay = try TestRelay()
        let session = try SMTPSession(try SMTPSessionTests.settings(relay))
        let message = SMTPSessionTests.message(1) + Array("\(smuggled)MAIL FROM:<x@evil.example>\r\n".utf8)
        let outcome = try session.send(from: "enfance@villefranche.example", to: "famille@example.org", message: message)
        guard case .rejected(let reply) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(reply.code == 554)
        #expect(relay.received.isEmpty && relay.count("MAIL") == 0, "\(relay.events)")
    }

    /// Clear text only to this machine: a host name that merely begins with `127.` is not it.
    @Test(arguments: ["127.relay.example.org", "127.0.0.evil", "127.0.0.1.nip.io", "localhost.example.org"])
    func clearTextIsRefusedForANameThatLooksLoopback(host: String) {
        #expect(throws: SMTPError.self) { try RelaySettings(host: host, security: .none).validate() }
    }

    @Test(arguments: ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
    func clearTextIsAcceptedForLoopback(host: String) throws {
        try RelaySettings(host: host, security: .none).validate()
    }
}

/// Review: a credentials file another (unprivileged) user owns is that user's to rewrite or read:
/// the relay's password would be theirs to choose.
@Suite("Relay credentials file ownership")
struct RelayCredentialsOwnerTests {
    @Test func aFileOwnedByAnotherUserIsRefused() throws {
        guard getuid() == 0, let other = getpwnam("postgres")?.pointee.pw_uid else { return } // needs root to chown
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("credentials-\(UUID().uuidString).json").path
        defer { unlink(path) }
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(#"{"username": "u", "password": "p"}"#.utf8), attributes: [.posixPermissions: 0o600])
        #expect(chown(path, other, getgid()) == 0)
        #expect(throws: SMTPError.self) { try RelayCredentials.load(path) }
        #expect(chown(path, 0, getgid()) == 0)
        _ = try RelayCredentials.load(path)
    }
}

/// Review: whoever may write the credentials file's folder must not make eticket read another
/// file as the relay's password (and send it in AUTH to the relay of the settings), nor hang it.
@Suite("Relay credentials file: links, FIFOs")
struct RelayCredentialsFileKindTests {
    static let body = Data(#"{"username": "u", "password": "p"}"#.utf8)

    @Test func aSymbolicLinkIsNotFollowedEvenToAGoodFile() throws {
        let folder = TestFilesDirectory.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Another file of this user that passes every check: a link to it must still be refused.
        let target = folder.appendingPathComponent("other-secret.json").path
        _ = FileManager.default.createFile(atPath: target, contents: Self.body, attributes: [.posixPermissions: 0o600])
        _ = try RelayCredentials.load(target)
        let link = folder.appendingPathComponent("credentials.json").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let error = #expect(throws: SMTPError.self) { try RelayCredentials.load(link) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("is a symbolic link") == true, "\(String(describing: error))")
        #expect(error?.message.contains(link) == true, "names the path: \(String(describing: error))")
    }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let folder = TestFilesDirectory.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("credentials.json").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = #expect(throws: SMTPError.self) { try RelayCredentials.load(fifo) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("not a regular file") == true, "\(String(describing: error))")
    }

    @Test(arguments: [0o600, 0o640, 0o400])
    func theOwnersPrivateModesAreAccepted(mode: Int) throws {
        let folder = TestFilesDirectory.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("credentials.json").path
        _ = FileManager.default.createFile(atPath: path, contents: Self.body, attributes: [.posixPermissions: mode])
        #expect(try RelayCredentials.load(path).username == "u")
    }

    @Test(arguments: [0o604, 0o620, 0o660, 0o606])
    func modesOpenToOthersOrGroupWritesAreRefused(mode: Int) throws {
        let folder = TestFilesDirectory.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("credentials.json").path
        _ = FileManager.default.createFile(atPath: path, contents: Self.body, attributes: [.posixPermissions: mode])
        let error = #expect(throws: SMTPError.self) { try RelayCredentials.load(path) }
        #expect(error?.message.contains("mode \(String(mode, radix: 8))") == true, "\(String(describing: error))")
    }
}

/// Review: a message too big for the relay is refused before it is offered (never retried: it
/// would be refused again at every attempt), by eticket's own cap and by the relay's SIZE.
@Suite("SMTP session: message size")
struct MessageSizeTests {
    /// A valid message padded to about `bytes` bytes with CRLF lines.
    static func message(_ number: Int, bytes: Int) -> [UInt8] {
        var message = SMTPSessionTests.message(number)
        let line = Array(String(repeating: "x", count: 76).utf8) + [13, 10]
        while message.count + line.count <= bytes { message += line }
        return message
    }

    @Test func aMessageAboveTheCapIsNotOfferedAndTheNextOneGoes() throws {
        let relay = try TestRelay()
        var settings = try SMTPSessionTests.settings(relay)
        settings.maxMessageBytes = 4_000
        let session = try SMTPSession(settings)
        let big = Self.message(1, bytes: 6_000)
        let outcome = try session.send(from: "a@example.org", to: "famille@example.org", message: big)
        guard case .rejected(let reply) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(reply.code == 552 && reply.enhancedStatus == "5.3.4", "\(reply)")
        #expect(
            reply.description.contains("\(big.count) bytes") && reply.description.contains("smtp.maxMessageBytes (4000)"),
            "\(reply)")
        #expect(relay.count("MAIL") == 0, "not offered: \(relay.events)")
        let small = try session.send(from: "a@example.org", to: "famille@example.org", message: Self.message(2, bytes: 3_000))
        guard case .accepted = small else {
            Issue.record("\(small)")
            return
        }
        #expect(relay.received.map(\.messageID) == ["<m2@villefranche.example>"])
    }

    @Test func theRelaysSizeIsAnnouncedInMailAndItsRefusalIsPermanent() throws {
        let relay = try TestRelay(behaviours: ["--size-limit", "4000"])
        let session = try SMTPSession(try SMTPSessionTests.settings(relay))
        let fits = Self.message(1, bytes: 3_000)
        let first = try session.send(from: "a@example.org", to: "famille@example.org", message: fits)
        guard case .accepted = first else {
            Issue.record("\(first)")
            return
        }
        // libcurl tells the relay the size in MAIL FROM (RFC 1870) when the relay announces SIZE.
        #expect(relay.events.contains("MAIL-OPTION SIZE=\(fits.count)"), "\(relay.events)")
        let big = Self.message(2, bytes: 6_000)
        let outcome = try session.send(from: "a@example.org", to: "famille@example.org", message: big)
        guard case .rejected(let reply) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(reply.code == 552, "\(reply)")
        #expect(relay.count("DATA-END") == 1 && relay.received.count == 1, "the big one never reached DATA: \(relay.events)")
    }

    @Test func theCapMustBePositive() throws {
        var settings = RelaySettings(host: "127.0.0.1")
        #expect(settings.maxMessageBytes == 10_240_000)
        settings.maxMessageBytes = 0
        let error = #expect(throws: SMTPError.self) { try settings.validate() }
        #expect(error?.message.contains("smtp.maxMessageBytes") == true, "\(String(describing: error))")
    }
}
