import Foundation

/// Where and how to reach the mail relay: the `smtp` section of the configuration.
public struct RelaySettings: Sendable, Equatable {
    /// How the connection is protected.
    public enum Security: String, Sendable, CaseIterable {
        /// Submission: plain TCP, then `STARTTLS`, required (port 587).
        case starttls
        /// Implicit TLS from the first byte (port 465, `smtps`).
        case tls
        /// No TLS at all: accepted only for a relay on this machine (see ``RelaySettings/validate()``).
        case none

        /// The port this mode's relays listen on.
        public var defaultPort: Int {
            switch self {
            case .starttls: 587
            case .tls: 465
            case .none: 25
            }
        }
    }

    /// The SASL mechanism AUTH uses; `nil` lets the relay's offer decide.
    public enum AuthMechanism: String, Sendable, CaseIterable {
        case plain = "PLAIN"
        case login = "LOGIN"
    }

    public var host: String
    public var port: Int
    public var security: Security
    /// A JSON file `{"username": …, "password": …}`, never readable by others; `nil` for no AUTH.
    public var credentialsFile: String?
    public var authMechanism: AuthMechanism?
    /// CA certificates (PEM) to verify the relay with, instead of the system's.
    public var caFile: String?
    /// The name this host gives in EHLO.
    public var heloName: String
    /// The envelope sender (bounces go there); `nil` uses each message's From address.
    public var envelopeFrom: String?
    /// TCP connect, TLS handshake and the relay's greeting, EHLO, STARTTLS and AUTH together.
    public var connectTimeout: Duration
    /// The longest wait for any one reply of the relay, and the longest stall while sending DATA.
    public var commandTimeout: Duration
    /// The largest message offered to the relay, in bytes: a larger one is failed without being
    /// offered (every attempt would be refused the same way). A relay's own SIZE, smaller or
    /// larger, is announced in EHLO and libcurl tells it each message's size in MAIL FROM, so
    /// the relay refuses a message above it at MAIL (552), before any byte of it is sent.
    public var maxMessageBytes: Int

    /// Postfix's `message_size_limit` default, the most common relay's SIZE.
    public static let defaultMaxMessageBytes = 10_240_000

    public init(
        host: String, port: Int? = nil, security: Security = .starttls, credentialsFile: String? = nil,
        authMechanism: AuthMechanism? = nil, caFile: String? = nil, heloName: String? = nil,
        envelopeFrom: String? = nil, connectTimeout: Duration = .seconds(15), commandTimeout: Duration = .seconds(60),
        maxMessageBytes: Int = RelaySettings.defaultMaxMessageBytes
    ) {
        self.host = host
        self.port = port ?? security.defaultPort
        self.security = security
        self.credentialsFile = credentialsFile
        self.authMechanism = authMechanism
        self.caFile = caFile
        self.heloName = heloName ?? Self.hostName
        self.envelopeFrom = envelopeFrom
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.maxMessageBytes = maxMessageBytes
    }

    /// `host:port`, as messages name the relay.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Refuses settings that would send the families' emails, or the password, where they must not go.
    ///
    /// - Throws: ``SMTPError`` `.configuration` naming the key and the accepted form.
    public func validate() throws(SMTPError) {
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" || $0 == "@" }) else {
            throw SMTPError(.configuration, "smtp.host: not a host name or address: \(host)")
        }
        guard (1...65_535).contains(port) else {
            throw SMTPError(.configuration, "smtp.port: must be a port number from 1 to 65535, not \(port)")
        }
        if security == .none, !isLoopback {
            throw SMTPError(
                .configuration,
                "smtp.tls none sends the password and the families' emails in clear: it is accepted only for a relay on "
                    + "this machine (localhost, 127.0.0.1, ::1), not \(host); use starttls (port 587) or tls (port 465)")
        }
        guard !heloName.isEmpty, heloName.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.[]:".contains($0)) })
        else { throw SMTPError(.configuration, "smtp.heloName: not a host name: \(heloName)") }
        guard maxMessageBytes > 0 else {
            throw SMTPError(
                .configuration, "smtp.maxMessageBytes: must be a number of bytes of at least 1, not \(maxMessageBytes)")
        }
        for (key, value) in [("smtp.credentialsFile", credentialsFile), ("smtp.caFile", caFile)] {
            if let value, value.isEmpty { throw SMTPError(.configuration, "\(key): empty path") }
        }
    }

    /// Whether the relay is this machine, the one place a clear-text connection stays.
    public var isLoopback: Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        // A dotted quad of numbers only: `127.relay.example.org` is a name DNS may send anywhere.
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        let loopbackV4 =
            parts.count == 4 && parts[0] == "127"
            && parts.allSatisfy { $0.count <= 3 && !$0.isEmpty && $0.allSatisfy(\.isASCII) && UInt8($0) != nil }
        return name == "localhost" || name == "::1" || loopbackV4
    }

    /// libcurl's URL for the relay; the path is the name given in EHLO.
    var url: String {
        let scheme = security == .tls ? "smtps" : "smtp"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)/\(heloName)"
    }

    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
