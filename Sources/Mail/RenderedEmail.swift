/// An email ready for the outbox: the exact message bytes and, beside them, the plain values a
/// JSON exporter or a test reads without parsing MIME.
public struct RenderedEmail: Sendable, Equatable {
    /// `left@right`, without angle brackets.
    public var messageID: String
    /// The sender's address.
    public var from: String
    /// The recipient's address.
    public var to: String
    /// The subject as the reader sees it: decoded, one line.
    public var subject: String
    /// The text/plain body (LF line endings).
    public var text: String
    /// The text/html body (LF line endings).
    public var html: String
    /// The header fields in message order, unfolded, encoded-words left encoded.
    public var headers: [EmailHeader]
    /// The complete RFC 5322 message, CRLF line endings.
    public var bytes: [UInt8]

    public init(
        messageID: String, from: String, to: String, subject: String, text: String, html: String,
        headers: [EmailHeader], bytes: [UInt8]
    ) {
        self.messageID = messageID
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
        self.bytes = bytes
    }
}
