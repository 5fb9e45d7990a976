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
        var findings: [Finding]
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
                outcome: try Outcome(postgresText: outcome),
                findings: try JSONDecoder().decode([Finding].self, from: Data(try row.string("findings").utf8)),
                reason: try optional("reason"))
        }
    }
}

/// What an outbox row keeps of its email (`email_outbox.particulars`, a JSON object written by
/// ``FamilyEmailStore``'s statement): what the family's dossier said when the email was decided.
struct EmailParticulars: Decodable, Sendable {
    var language: String
    /// The dossier's id on the portal.
    var dossier: String
    var firstName: String
    var lastName: String
    var children: [Child]
    /// For a validated dossier: `now`, `manual`, or the epoch seconds at which rights open.
    var nextStep: String?
    /// For planning-open: the first day drawn.
    var shownFrom: String?

    struct Child: Decodable, Sendable {
        var firstName: String
        var lastName: String
        /// For planning-open: the services the child has rights to in the period, by label.
        var services: [Service]?
    }

    struct Service: Decodable, Sendable {
        var label: String
        var weekdays: [Int]
        /// The days the child has already reserved, `YYYY-MM-DD`.
        var reserved: [String]
    }

    /// - Throws: ``BackOfficeError`` `.failure` naming the email when the JSON is not of this shape.
    init(json: String, email id: Int64) throws {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            self = try decoder.decode(Self.self, from: Data(json.utf8))
        } catch {
            throw BackOfficeError(.failure, "email \(id) cannot be rendered: its particulars are not what 029 writes: \(error)")
        }
    }
}
