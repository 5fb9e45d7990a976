import Foundation

/// The file formats the outbox exports to, for a mail relay to pick up.
public enum OutboxFormat: String, Sendable, CaseIterable, Codable {
    /// A Maildir: one file per message in `new/`, written through `tmp/`.
    case maildir
    /// A directory of `.eml` files, one per message.
    case eml
    /// One mbox file, mboxrd flavour, appended to.
    case mbox
    /// One JSON Lines file, an object per message, appended to.
    case jsonl

}

/// One message of the outbox, as the exporter hands it to a writer.
public struct OutboxMessage: Sendable, Equatable {
    /// The outbox row's stable id: marks the record (JSON Lines), so that exporting the same row
    /// again adds nothing.
    public var id: String
    /// `left@right`, without angle brackets; stable per outbox row and random (names the file of a
    /// Maildir or `.eml` export, and mbox deduplicates on it).
    public var messageID: String
    public var from: String
    public var to: String
    /// Decoded, as the reader sees it.
    public var subject: String
    public var text: String
    public var html: String
    public var headers: [EmailHeader]
    /// The exact RFC 5322 message (CRLF).
    public var bytes: [UInt8]
    /// When the email was rendered (the mbox `From ` line's date).
    public var createdAt: Date

    public init(
        id: String, messageID: String, from: String, to: String, subject: String, text: String, html: String,
        headers: [EmailHeader], bytes: [UInt8], createdAt: Date
    ) {
        self.id = id
        self.messageID = messageID
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.headers = headers
        self.bytes = bytes
        self.createdAt = createdAt
    }

    /// The outbox message of a rendered email.
    public init(id: String, email: RenderedEmail, createdAt: Date) {
        self.init(
            id: id, messageID: email.messageID, from: email.from, to: email.to, subject: email.subject,
            text: email.text, html: email.html, headers: email.headers, bytes: email.bytes, createdAt: createdAt)
    }
}

/// Writes outbox messages to files, durably and without duplicates.
///
/// The exporter's loop: take a batch of pending rows, ``write(_:)`` them, and only when it
/// returns mark the rows exported. A crash at any point followed by a rerun leaves every message
/// exactly once in the output: files are written under a temporary name, fsync'd, renamed and their
/// directory fsync'd; appended files are deduplicated on rerun (see each writer).
///
/// Files are created with mode 0600 and directories with 0700: messages hold personal data. Every
/// file is written through a ``SafeDirectory``: never through a symbolic link, never into a file
/// that is not this user's own regular file.
public protocol OutboxWriter: Sendable {
    /// Prepares `path` (a directory for Maildir and `.eml`, a file for mbox and JSON Lines),
    /// creating missing directories.
    init(path: String) throws

    /// Writes a batch durably before returning.
    /// - Important: Mark the rows exported only after this returns. Writing the same ids again
    ///   (after a crash before the rows were marked) does not produce duplicates.
    func write(_ messages: [OutboxMessage]) throws
}

/// A writer for `format` at `path`.
public func makeOutboxWriter(_ format: OutboxFormat, path: String) throws -> any OutboxWriter {
    switch format {
    case .maildir: try MaildirWriter(path: path)
    case .eml: try EMLWriter(path: path)
    case .mbox: try MboxWriter(path: path)
    case .jsonl: try JSONLWriter(path: path)
    }
}
