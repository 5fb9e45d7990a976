import Dossiers
import Foundation
import Mail
import Postgres

/// Renders the family's emails into `email_outbox`, in the transaction of the decision or the
/// opening that causes them: a decision without its email, or an email without its decision,
/// cannot exist.
public final class EmailOutbox: FamilyNotifier {
    package let templates: TemplateLibrary

    /// - Parameter templates: loaded and validated at start, so a broken template stops a worker
    ///   before it decides anything.
    public init(templates: TemplateLibrary) {
        self.templates = templates
    }

    /// Loads `config/templates` (or `directory`), refusing to start on a broken template.
    public convenience init(directory: String? = nil) throws {
        self.init(templates: try EmailTemplates.library(directory))
    }

    /// Renders the emails of the batch's decisions and openings and writes them in one statement.
    func notify(decisions decisionIDs: [Int64], openings: [DecisionStore.Opening], on connection: Connection) throws {
        try insert(try render(decisions: decisionIDs, on: connection) + render(openings: openings, on: connection), on: connection)
    }

    func decisionsRecorded(_ decisionIDs: [Int64], on connection: Connection) throws {
        try insert(try render(decisions: decisionIDs, on: connection), on: connection)
    }

    func rightsOpened(_ openings: [DecisionStore.Opening], on connection: Connection) throws {
        try insert(try render(openings: openings, on: connection), on: connection)
    }

    func render(decisions decisionIDs: [Int64], on connection: Connection) throws -> [PendingEmail] {
        guard !decisionIDs.isEmpty else { return [] }
        let rows = try connection.query(
            """
            SELECT x.id AS decision_id, x.outcome::text AS outcome, x.findings::text AS findings, x.reason,
                   d.id AS dossier_id, d.external_id, d.locale, d.structure_id,
                   a.email, \(Self.greetingColumns), \(Self.structureColumns), s.rights_opening::text AS rights_opening,
                   EXISTS (SELECT FROM periods p WHERE p.structure_id = s.id
                           AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date) AS has_current_period,
                   (SELECT min(p.planning_opens_at) FROM periods p WHERE p.structure_id = s.id
                           AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date
                           AND p.planning_opens_at > \(DecisionClock.now)) AS next_opening,
                   ARRAY(SELECT c.first_name FROM children c WHERE c.dossier_id = d.id ORDER BY c.position) AS child_first_names,
                   ARRAY(SELECT c.last_name FROM children c WHERE c.dossier_id = d.id ORDER BY c.position) AS child_last_names
            FROM decisions x
            JOIN dossiers d ON d.id = x.dossier_id
            JOIN accounts a ON a.id = d.account_id
            JOIN structures s ON s.id = d.structure_id
            WHERE x.id = ANY($1::bigint[]) AND x.outcome <> 'awaiting_review'
            """, [decisionIDs])
        guard !rows.isEmpty else { return [] }
        var pending: [PendingEmail] = []
        for row in rows {
            let dossierID: Int64 = try row.decode("dossier_id")
            guard let outcome = Outcome(rawValue: try row.decode("outcome")) else { continue }
            var context = try Self.context(row)
            context.outcome = outcome
            context.children = zip(try row.decode([String].self, "child_first_names"), try row.decode([String].self, "child_last_names"))
                .map { ChildInfo(firstName: $0, lastName: $1) }
            let findings = try JSONDecoder().decode([Finding].self, from: Data(try row.decode(String.self, "findings").utf8))
            let reason: String? = try row.decodeIfPresent("reason")
            context.reasons = findings.map { $0.message(in: context.language) } + [reason].compactMap { $0 }
            context.reasonActions = findings.map { CompletenessRules.action(for: $0.code, in: context.language) ?? "" }
            if outcome == .validated {
                context.nextStep = try Self.nextStep(row)
            }
            pending.append(
                PendingEmail(
                    dossierID: dossierID, structureID: try row.decode("structure_id"), kind: .dossierProcessed,
                    decisionID: try row.decode("decision_id"), periodID: nil,
                    email: try render(.dossierProcessed, context)))
        }
        return pending
    }

    func render(openings: [DecisionStore.Opening], on connection: Connection) throws -> [PendingEmail] {
        guard !openings.isEmpty else { return [] }
        let rows = try connection.query(
            """
            SELECT o.dossier_id, o.period_id, d.external_id, d.locale, d.structure_id,
                   a.email, \(Self.greetingColumns), \(Self.structureColumns),
                   p.label AS period_label, p.starts_on::text AS starts_on, p.ends_on::text AS ends_on,
                   p.closed_dates::text[] AS closed_dates,
                   greatest(p.starts_on, (\(DecisionClock.now) AT TIME ZONE s.timezone)::date)::text AS shown_from
            FROM unnest($1::bigint[], $2::bigint[]) AS o(dossier_id, period_id)
            JOIN dossiers d ON d.id = o.dossier_id
            JOIN accounts a ON a.id = d.account_id
            JOIN structures s ON s.id = d.structure_id
            JOIN periods p ON p.id = o.period_id
            """, [openings.map(\.dossierID), openings.map(\.periodID)])
        let rights = try childrenRights(openings, on: connection)
        var pending: [PendingEmail] = []
        for row in rows {
            let dossierID: Int64 = try row.decode("dossier_id")
            let periodID: Int64 = try row.decode("period_id")
            var context = try Self.context(row)
            guard let startsOn = CalendarDate(iso: try row.decode(String.self, "starts_on")),
                let endsOn = CalendarDate(iso: try row.decode(String.self, "ends_on"))
            else { continue }
            context.period = PeriodInfo(label: try row.decode("period_label"), startsOn: startsOn, endsOn: endsOn)
            let closed = Set(try row.decode([String].self, "closed_dates").compactMap { CalendarDate(iso: $0) })
            // A period already under way is drawn from today: its past weeks are of no use.
            let shownFrom = CalendarDate(iso: try row.decode(String.self, "shown_from")) ?? startsOn
            let window = PlanningGrid.announcedDays(startsOn: shownFrom, endsOn: endsOn)
            context.children = (rights[PeriodKey(dossierID: dossierID, periodID: periodID)] ?? []).map { child in
                var info = ChildInfo(firstName: child.firstName, lastName: child.lastName, services: child.services.map(\.label))
                info.calendars = child.services.map { service in
                    // Every day drawn lies in the period, whose rights this email announces.
                    PlanningGrid(
                        title: service.label, from: window.first, through: window.last, runsOn: service.weekdays,
                        reserved: service.reserved, period: { .init(isClosed: closed.contains($0), hasRights: true) })
                }
                return info
            }
            context.services = Array(Set(context.children.flatMap(\.services))).sorted()
            pending.append(
                PendingEmail(
                    dossierID: dossierID, structureID: try row.decode("structure_id"), kind: .planningOpen,
                    decisionID: nil, periodID: periodID, email: try render(.planningOpen, context)))
        }
        return pending
    }

    /// When the children of a validated dossier can reserve, by the structure's rights opening:
    /// with the validation, at the next period's `planning_opens_at`, or when the structure opens
    /// them (also when no period is left to open).
    static func nextStep(_ row: Row) throws -> NextStep {
        guard try row.decode(Bool.self, "has_current_period") else { return .byStructure }
        switch RightsOpening(rawValue: try row.decode("rights_opening")) {
        case .onValidation: return .now
        case .scheduled: return try row.decodeIfPresent(Date.self, "next_opening").map(NextStep.on) ?? .now
        case .manual, nil: return .byStructure
        }
    }

    // MARK: - Reading the context

    /// The names the family gave in this dossier. The account row holds whatever the account's
    /// latest import said, which may be another dossier's names; the stored account row is only
    /// the fallback for a dossier whose content is gone.
    static let greetingColumns = """
        coalesce(d.content->'account'->>'first_name', a.first_name) AS first_name,
        coalesce(d.content->'account'->>'last_name', a.last_name) AS last_name
        """

    static let structureColumns = """
        s.code AS structure_code, s.name AS structure_name, s.portal_url, s.sender_name, s.sender_email,
        s.reply_to, s.timezone, s.display_name, s.logo_url, s.accent_color, s.contact_phone, s.contact_address,
        s.contact_hours
        """

    static func context(_ row: Row) throws -> EmailContext {
        let language = Language(rawValue: try row.decode("locale")) ?? .fr
        let account = Person(
            firstName: try row.decode("first_name"), lastName: try row.decode("last_name"), email: try row.decode("email"))
        let structure = StructureInfo(
            code: try row.decode("structure_code"), name: try row.decode("structure_name"),
            portalURL: try row.decodeIfPresent("portal_url"), senderName: try row.decode("sender_name"),
            senderEmail: try row.decode("sender_email"), replyTo: try row.decodeIfPresent("reply_to"),
            timeZone: try row.decode("timezone"),
            branding: Branding(
                displayName: try row.decodeIfPresent("display_name"), logoURL: try row.decodeIfPresent("logo_url"),
                accentColor: try row.decodeIfPresent("accent_color"), phone: try row.decodeIfPresent("contact_phone"),
                address: try row.decodeIfPresent("contact_address"), openingHours: try row.decodeIfPresent("contact_hours")))
        return EmailContext(
            language: language, dossierExternalID: try row.decode("external_id"), account: account,
            familyName: account.lastName, structure: structure)
    }

    private struct PeriodKey: Hashable {
        var dossierID: Int64
        var periodID: Int64
    }

    /// A child's rights in a period, as its planning-open email draws them.
    private struct ChildRights {
        var firstName: String
        var lastName: String
        var services: [ServiceRights]
    }

    private struct ServiceRights {
        var label: String
        var weekdays: [Int]
        /// The child's reservations of this service in the period (a reopening may find some).
        var reserved: Set<CalendarDate>
    }

    /// Each child's services with rights in the period, by (dossier, period), services by label.
    private func childrenRights(_ openings: [DecisionStore.Opening], on connection: Connection) throws -> [PeriodKey: [ChildRights]] {
        var rights: [PeriodKey: [ChildRights]] = [:]
        var lastChild: Int64?
        for row in try connection.query(
            """
            SELECT r.dossier_id, r.period_id, c.id AS child_id, c.first_name, c.last_name, v.label,
                   v.weekdays::int[] AS weekdays,
                   ARRAY(SELECT x.day::text FROM reservations x
                         WHERE x.child_id = r.child_id AND x.service_id = r.service_id AND x.period_id = r.period_id
                         ORDER BY x.day) AS reserved
            FROM unnest($1::bigint[], $2::bigint[]) AS o(dossier_id, period_id)
            JOIN reservation_rights r USING (dossier_id, period_id)
            JOIN children c ON c.id = r.child_id
            JOIN services v ON v.id = r.service_id
            ORDER BY r.dossier_id, r.period_id, c.position, v.label, v.code
            """, [openings.map(\.dossierID), openings.map(\.periodID)])
        {
            let key = PeriodKey(dossierID: try row.decode("dossier_id"), periodID: try row.decode("period_id"))
            let childID: Int64 = try row.decode("child_id")
            let service = ServiceRights(
                label: try row.decode("label"), weekdays: try row.decode("weekdays"),
                reserved: Set(try row.decode([String].self, "reserved").compactMap { CalendarDate(iso: $0) }))
            if lastChild == childID, var children = rights[key], !children.isEmpty {
                children[children.count - 1].services.append(service)
                rights[key] = children
            } else {
                rights[key, default: []].append(
                    ChildRights(firstName: try row.decode("first_name"), lastName: try row.decode("last_name"), services: [service]))
            }
            lastChild = childID
        }
        return rights
    }

    // MARK: - Writing

    struct PendingEmail {
        var dossierID: Int64
        var structureID: Int64
        var kind: EmailKind
        var decisionID: Int64?
        var periodID: Int64?
        var email: RenderedEmail
    }

    private func render(_ kind: EmailKind, _ context: EmailContext) throws -> RenderedEmail {
        try templates.render(
            kind, context: context, messageID: makeMessageID(senderEmail: context.structure.senderEmail), date: Date())
    }

    /// One set-based insert; a (dossier, decision) or (dossier, period) already mailed is skipped,
    /// so a retried batch never makes a second copy. (Array parameters carry no NULL elements:
    /// an empty string stands for a missing decision or period.) The messages go in binary:
    /// a batch's are about a megabyte, and sending them as base64 in an array literal (encoded here,
    /// parsed character by character by the server) cost 10–15 % of the processing rate.
    func insert(_ emails: [PendingEmail], on connection: Connection) throws {
        guard !emails.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, period_id, message_id,
                sender, recipient, subject, message)
            SELECT dossier_id, structure_id, kind::email_kind, nullif(decision_id, '')::bigint,
                   nullif(period_id, '')::bigint, message_id, sender, recipient, subject, message
            FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                        $7::text[], $8::text[], $9::text[], $10::bytea[])
                AS e(dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient,
                     subject, message)
            ON CONFLICT DO NOTHING
            """,
            [
                emails.map(\.dossierID), emails.map(\.structureID), emails.map(\.kind.rawValue),
                emails.map { $0.decisionID.map(String.init) ?? "" },
                emails.map { $0.periodID.map(String.init) ?? "" },
                emails.map(\.email.messageID), emails.map(\.email.from), emails.map(\.email.to),
                emails.map(\.email.subject), PostgresByteaArray(emails.map(\.email.bytes)),
            ])
    }
}

extension EmailOutbox {
    /// Renders `kind` for an existing dossier without storing it: its last decision for
    /// dossier-processed, its first period with rights for planning-open.
    func preview(_ kind: EmailKind, externalID: String, on connection: Connection) throws -> RenderedEmail {
        let found = try connection.query("SELECT id FROM dossiers WHERE external_id = $1", [externalID]).first
        guard let dossierID: Int64 = try found?.decode("id") else {
            throw BackOfficeError(.notFound, "no dossier \(externalID)")
        }
        let rendered: [PendingEmail]
        switch kind {
        case .dossierProcessed:
            let decision = try connection.query(
                "SELECT id FROM decisions WHERE dossier_id = $1 AND outcome <> 'awaiting_review' ORDER BY id DESC LIMIT 1",
                [dossierID]
            ).first
            guard let decisionID: Int64 = try decision?.decode("id") else {
                throw BackOfficeError(.refused, "dossier \(externalID) has no decision the family is told of yet")
            }
            rendered = try render(decisions: [decisionID], on: connection)
        case .planningOpen:
            let period = try connection.query(
                "SELECT period_id FROM reservation_rights WHERE dossier_id = $1 ORDER BY period_id LIMIT 1", [dossierID]
            ).first
            guard let periodID: Int64 = try period?.decode("period_id") else {
                throw BackOfficeError(.refused, "dossier \(externalID) has no reservation rights yet")
            }
            rendered = try render(openings: [.init(dossierID: dossierID, periodID: periodID, children: 0)], on: connection)
        }
        guard let email = rendered.first?.email else {
            throw BackOfficeError(.refused, "nothing to render for \(externalID)")
        }
        return email
    }
}

