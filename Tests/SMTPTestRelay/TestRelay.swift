import Foundation
import TestSupport

/// A real SMTP relay for the tests: `smtp_relay.py` (aiosmtpd, Debian's `python3-aiosmtpd`) with
/// STARTTLS or implicit TLS on a certificate made here with the openssl CLI, and AUTH.
///
/// The relay records each step a client reaches (`events`) and each message it accepted
/// (`received`), so that tests wait for states, never for durations.
public final class TestRelay: @unchecked Sendable {
    public enum Security: String, Sendable { case starttls, tls, none }

    /// What the relay recorded of one accepted message (Python's email parser read it).
    public struct Received: Decodable, Sendable {
        public var messageID: String
        public var mailFrom: String
        public var rcptTos: [String]
        public var subject: String
        /// The parser's complaints, every part included: empty for a well-formed message.
        public var defects: [String]
        public var parts: [String]

        enum CodingKeys: String, CodingKey {
            case messageID = "message_id"
            case mailFrom = "mail_from"
            case rcptTos = "rcpt_tos"
            case subject, defects, parts
        }
    }

    public static let username = "eticket-relay-user"
    public static let password = "s3cret pässword"

    public let directory: URL
    public let port: Int
    public let security: Security
    private let process: Process

    /// The CA file (the relay's self-signed certificate for `localhost` and 127.0.0.1).
    public static var certificate: String { Self.material.certificate }

    /// Starts the relay and waits until it listens.
    ///
    /// - Parameter behaviours: `smtp_relay.py`'s options: `--defer-first 2`, `--reject-rcpt A`,
    ///   `--cut-data 3`, `--silent-data-end 1`, `--black-hole`, `--size-limit 1000` (the SIZE announced and enforced).
    public init(security: Security = .starttls, behaviours: [String] = []) throws {
        directory = TestFiles.directory.appendingPathComponent("relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.security = security
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments =
            [Self.script, "--dir", directory.path, "--tls", security.rawValue]
            + (security == .none ? [] : ["--cert", Self.material.certificate, "--key", Self.material.key])
            + ["--user", Self.username, "--password", Self.password] + behaviours
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: Self.emptyFile(directory.appendingPathComponent("stdout")))
        process.standardError = try FileHandle(forWritingTo: Self.emptyFile(directory.appendingPathComponent("stderr")))
        try process.run()
        let portFile = directory.appendingPathComponent("port").path
        var found: Int?
        let deadline = ContinuousClock.now + .seconds(30)
        while found == nil, process.isRunning, ContinuousClock.now < deadline {
            found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            if found == nil { usleep(10_000) }
        }
        guard let found else {
            process.terminate()
            let stderr = (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
            throw TestRelayError("the test relay did not start: \(stderr)")
        }
        port = found
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The steps clients reached, in order (`EHLO`, `AUTH PLAIN`, `MAIL`, `RCPT`, `DATA-END`, `ACCEPTED <id>`, …).
    public var events: [String] {
        ((try? String(contentsOf: directory.appendingPathComponent("events.log"), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    /// The messages the relay answered 250, in order.
    public var received: [Received] {
        let text = (try? String(contentsOf: directory.appendingPathComponent("received.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Received.self, from: Data($0.utf8)) }
    }

    /// How many events start with `prefix`.
    public func count(_ prefix: String) -> Int { events.filter { $0.hasPrefix(prefix) }.count }

    /// Waits until `condition` holds or `while` stops holding; returns whether the condition held.
    /// Polls every millisecond: a test waits for a state, and gives up only after `timeout`.
    public func wait(timeout: Double = 120, while running: () -> Bool = { true }, until condition: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            if !running() { return condition() }
            usleep(1_000)
        }
        return condition()
    }

    /// A configuration file naming this relay (its CA, a credentials file of mode 0600), with
    /// `extra` keys of the `smtp` section added or replaced.
    public func configFile(_ extra: [String: Any] = [:], credentials: (String, String)? = nil) throws -> String {
        let credentialsFile = directory.appendingPathComponent("credentials-\(UUID().uuidString).json").path
        let (username, password) = credentials ?? (Self.username, Self.password)
        let body = try JSONSerialization.data(withJSONObject: ["username": username, "password": password])
        guard FileManager.default.createFile(atPath: credentialsFile, contents: body, attributes: [.posixPermissions: 0o600])
        else { throw TestRelayError("cannot write \(credentialsFile)") }
        var smtp: [String: Any] = [
            "host": "127.0.0.1", "port": port, "tls": security.rawValue, "credentialsFile": credentialsFile,
            "commandTimeoutSeconds": 5, "connectTimeoutSeconds": 5,
        ]
        if security != .none { smtp["caFile"] = Self.material.certificate }
        smtp.merge(extra) { $1 }
        let path = directory.appendingPathComponent("config-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: ["smtp": smtp], options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
        return path
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("smtp_relay.py").path

    /// One certificate per test process, made by the openssl CLI.
    private static let material: (certificate: String, key: String) = {
        let directory = TestFiles.directory.appendingPathComponent("relay-tls")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try? openssl.run()
        openssl.waitUntilExit()
        return (certificate, key)
    }()

    private static func emptyFile(_ url: URL) -> URL {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        return url
    }
}

public struct TestRelayError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
