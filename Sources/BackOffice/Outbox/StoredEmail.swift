import Dossiers
import Foundation
import Mail
import Postgres

/// An outbox row as the renderer reads it (migration 029): the email's own values, and what it
/// says of its structure, its period and its decision, read beside it when it is rendered.
struct StoredEmail: Sendable {
    var id: Int64
    var kind: EmailKind
    /// `left@right`, fixed when the email was written.
    var messageID: String
    var sender: String
    var recipient: String
    /// The `Date` header: when the email was written.
    var createdAt: Date
    var content: Content
    /// The structure now, sending from the row's own `sender`.
    var structure: StructureInfo
    /// The period a planning-open email opens, as it is now.
    var period: PeriodInfo?
    var closedDays: Set<CalendarDate>
    /// The decision a dossier-processed email tells of.
    var decision: Decision?

    enum Content: Sendable {
        /// A row from before 029: the message as it was rendered then, with its subject.
        case rendered([UInt8], subject: String)
        /// What is particular to the email (``EmailParticulars`` as JSON, decoded when rendered, on
        /// the renderer's threads), and the SHA-256 of its template set (`nil` for a preview,
        /// which renders with the templates it is given).
        case particulars(String, templateSet: [UInt8]?)
    }

    struct Decision: Sendable {
        var outcome: Outcome
        /// The findings as stored (JSON), decoded when the email is rendered.
        var findings: String
        /// An administrator's own words, beside the findings.
        var reason: String?
    }

    /// Reads a row of ``OutboxStore``'s rendering queries (``OutboxStore/renderedColumns``).
    init(_ row: BinaryRow) throws {
        func optional(_ column: String) throws -> String? { row.isNull(column) ? nil : try row.string(column) }
        id = try row.int64("id")
        kind = try EmailKind(postgresText: try row.string("kind"))
        messageID = try row.string("message_id")
        sender = try row.string("sender")
        recipient = try row.string("recipient")
        createdAt = try row.date("created_at")
        if !row.isNull("message") {
            content = .rendered(try row.bytes("message"), subject: try optional("subject") ?? "")
        } else {
            content = .particulars(
                try row.string("particulars"), templateSet: row.isNull("template_set") ? nil : try row.bytes("template_set"))
        }
        structure = StructureInfo(
            code: try row.string("structure_code"), name: try row.string("structure_name"),
            portalURL: try optional("portal_url"), senderName: try row.string("sender_name"), senderEmail: sender,
            replyTo: try optional("reply_to"), timeZone: try row.string("timezone"),
            branding: Branding(
                displayName: try optional("display_name"), logoURL: try optional("logo_url"),
                accentColor: try optional("accent_color"), phone: try optional("contact_phone"),
                address: try optional("contact_address"), openingHours: try optional("contact_hours")))
        if let label = try optional("period_label"), let startsOn = CalendarDate(iso: try row.string("period_starts_on")),
            let endsOn = CalendarDate(iso: try row.string("period_ends_on"))
        {
            period = PeriodInfo(label: label, startsOn: startsOn, endsOn: endsOn)
        }
        closedDays = Set(
            (try optional("period_closed_days") ?? "").split(separator: " ").compactMap { CalendarDate(iso: String($0)) })
        if let outcome = try optional("outcome") {
            decision = Decision(
                outcome: try Outcome(postgresText: outcome), findings: try row.string("findings"),
                reason: try optional("reason"))
        }
    }
}

/// An email whose own content cannot be rendered, and never will be: its particulars, its
/// decision's findings, its template set, or an address the message cannot carry. The export
/// leaves it pending and names it; the sender marks it failed. Anything else (the database, the
/// temporary directory) is not the email's fault, and leaves it due.
struct UnrenderableEmail: Error, CustomStringConvertible {
    var id: Int64
    var reason: String

    var description: String { "email \(id) cannot be rendered: \(reason)" }
}
