import Dossiers
import Foundation

/// A display name and an address: `From`, `To`, `Reply-To`.
public struct Mailbox: Sendable, Equatable {
    /// Shown to the reader; may be empty. Control characters never reach the header.
    public var name: String
    /// `local@domain`, ASCII.
    public var address: String

    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }
}

/// One header field of a message, as it stands in the message once unfolded: an ASCII field body,
/// with any encoded-words still encoded.
public struct EmailHeader: Sendable, Equatable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An RFC 5322 message with a `multipart/alternative` body: text/plain then text/html, UTF-8,
/// quoted-printable, CRLF line endings.
public struct MIMEMessage: Sendable, Equatable {
    public var from: Mailbox
    public var replyTo: Mailbox?
    public var to: Mailbox
    public var subject: String
    public var date: Date
    /// The zone the `Date` header is written in (the structure's).
    public var timeZone: TimeZone
    /// `left@right`, with or without the angle brackets.
    public var messageID: String
    public var language: Language?
    /// The text/plain body; LF or CRLF line endings.
    public var text: String
    /// The text/html body; LF or CRLF line endings.
    public var html: String

    public init(
        from: Mailbox, replyTo: Mailbox? = nil, to: Mailbox, subject: String, date: Date, timeZone: TimeZone,
        messageID: String, language: Language? = nil, text: String, html: String
    ) {
        self.from = from
        self.replyTo = replyTo
        self.to = to
        self.subject = subject
        self.date = date
        self.timeZone = timeZone
        self.messageID = messageID
        self.language = language
        self.text = text
        self.html = html
    }
}

/// A new `Message-ID` for a sender: `<uuid>@<sender's domain>`, without angle brackets.
///
/// Store it with the outbox row, so that re-rendering or re-exporting that row keeps the same id.
public func makeMessageID(senderEmail: String, uuid: UUID = UUID()) -> String {
    let domain = senderEmail.split(separator: "@").last.map(String.init) ?? "localhost"
    return "\(uuid.uuidString.lowercased())@\(domain.isEmpty ? "localhost" : domain)"
}
