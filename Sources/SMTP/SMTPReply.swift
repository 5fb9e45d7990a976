/// One reply of the relay: its code and its lines (`250-…` continuation lines included).
public struct SMTPReply: Sendable, Equatable, Codable, CustomStringConvertible {
    public var code: Int
    /// The reply's lines without their code and separator.
    public var lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    /// `250 2.0.0 Ok: queued as 4F2A`; a multi-line reply's lines joined by ` / `.
    public var description: String { "\(code) " + lines.joined(separator: " / ") }

    /// 4xx: try again later.
    public var isTransient: Bool { (400..<500).contains(code) }
    /// 5xx: the relay will not take it.
    public var isPermanent: Bool { (500..<600).contains(code) }
    public var isPositive: Bool { (200..<400).contains(code) }

    /// The enhanced status code (`5.1.1`) when the relay gives one; logs carry it instead of the
    /// text, which may quote an address.
    public var enhancedStatus: String? {
        guard let first = lines.first?.split(separator: " ").first else { return nil }
        let parts = first.split(separator: ".")
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        return String(first)
    }
}

/// Assembles the relay's replies from the lines libcurl reports, and remembers which command
/// each answers.
struct SMTPTranscript {
    /// A command sent and the reply it got (`nil`: none came).
    struct Exchange {
        /// The command's verb (`EHLO`, `MAIL`, …); `nil` for the greeting.
        var verb: String?
        var reply: SMTPReply?
    }

    private(set) var exchanges: [Exchange] = []
    private var pending: [String] = []
    private(set) var connected = false
    private(set) var tlsDescription: String?
    private(set) var certificateVerified = false
    private(set) var sentBody = false

    /// The verbs that are worth recording; anything else a client sends in the command channel
    /// is an AUTH exchange's encoded name or password, which is never kept.
    private static let verbs: Set<String> = ["EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP"]

    mutating func reset() { self = SMTPTranscript() }

    mutating func commandSent(_ line: String) {
        // By scalars: "\r\n" is one Character, which a comparison with "\r" or "\n" misses.
        let verb = String(String.UnicodeScalarView(line.unicodeScalars.prefix { $0 != " " && $0 != "\r" && $0 != "\n" }))
            .uppercased()
        guard Self.verbs.contains(verb) else { return }
        exchanges.append(Exchange(verb: verb, reply: nil))
    }

    mutating func received(_ text: String) {
        // By lines: "\r\n" is one Character, a newline.
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = String(raw)
            guard line.count >= 3, let code = Int(line.prefix(3)) else { continue }
            let separator = line.dropFirst(3).first
            pending.append(String(line.dropFirst(4)))
            guard separator != "-" else { continue }
            let reply = SMTPReply(code: code, lines: pending)
            pending = []
            if let last = exchanges.indices.last, exchanges[last].reply == nil {
                exchanges[last].reply = reply
            } else {
                exchanges.append(Exchange(verb: nil, reply: reply)) // the greeting
            }
        }
    }

    mutating func information(_ text: String) {
        if text.hasPrefix("Connected to") { connected = true }
        if text.hasPrefix("SSL connection using") {
            tlsDescription = String(text.dropFirst("SSL connection using ".count)).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if text.contains("SSL certificate verify ok") { certificateVerified = true }
    }

    mutating func bodySent() { sentBody = true }

    /// Whether this exchange reached the mail transaction (MAIL FROM was sent).
    var reachedTransaction: Bool { exchanges.contains { $0.verb == "MAIL" } }

    /// The last command sent and its reply, the QUIT that closes a failed session aside.
    var last: Exchange? { exchanges.last { $0.verb != "QUIT" } }
}
