import Dossiers
import Foundation
import Mail
import Postgres

/// The outbox's writing side: what the family's emails say (read from the dossier, its account,
/// its structure, its decision and its rights) and the insert of the rendered messages. The
/// delivery side is ``OutboxStore``. Every method runs on the caller's connection, inside the
/// caller's transaction: an email is written with the decision or the opening that causes it.
struct FamilyEmailStore {
    let connection: Connection

    /// What a dossier-processed email says of one decision.
    struct DecisionEmail {
        var decisionID: Int64
        var dossierID: Int64
        var structureID: Int64
        var outcome: Outcome
        var findings: [Finding]
        /// An administrator's own words, beside the findings.
        var reason: String?
        /// The family's greeting and the structure; `outcome` and the children are filled in.
        var context: EmailContext
        /// When the children can reserve, for a validated dossier.
        var nextStep: NextStep
    }

    /// The decisions of `decisionIDs` that the family is told of (not `awaiting_review`).
    func decisionEmails(_ decisionIDs: [Int64]) throws -> [DecisionEmail] {
        guard !decisionIDs.isEmpty else { return [] }
        return try connection.query(
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
            """, [decisionIDs]
        ).map { row in
            let outcome: Outcome = try row.decode("outcome")
            var context = try Self.context(row)
            context.outcome = outcome
            context.children = zip(
                try row.decode([String].self, "child_first_names"), try row.decode([String].self, "child_last_names")
            )
            .map { ChildInfo(firstName: $0, lastName: $1) }
            return DecisionEmail(
                decisionID: try row.decode("decision_id"), dossierID: try row.decode("dossier_id"),
                structureID: try row.decode("structure_id"), outcome: outcome,
                findings: try JSONDecoder().decode([Finding].self, from: Data(try row.decode(String.self, "findings").utf8)),
                reason: try row.decodeIfPresent("reason"), context: context, nextStep: try Self.nextStep(row))
        }
    }

    /// What a planning-open email says of one (dossier, period) opening; the children's rights
    /// come from ``childrenRights(_:)``.
    struct OpeningEmail {
        var dossierID: Int64
        var periodID: Int64
        var structureID: Int64
        var context: EmailContext
        var period: PeriodInfo
        var closedDates: Set<CalendarDate>
        /// The first day drawn: the period's start, or today in the structure's time zone for a
        /// period already under way.
        var shownFrom: CalendarDate
    }

    func openingEmails(_ openings: [DecisionStore.Opening]) throws -> [OpeningEmail] {
        guard !openings.isEmpty else { return [] }
        return try connection.query(
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
            """, [openings.map(\.dossierID), openings.map(\.periodID)]
        ).map { row in
            let startsOn = try Self.day(row, "starts_on")
            return OpeningEmail(
                dossierID: try row.decode("dossier_id"), periodID: try row.decode("period_id"),
                structureID: try row.decode("structure_id"), context: try Self.context(row),
                period: PeriodInfo(
                    label: try row.decode("period_label"), startsOn: startsOn, endsOn: try Self.day(row, "ends_on")),
                closedDates: Set(try row.decode([String].self, "closed_dates").compactMap { CalendarDate(iso: $0) }),
                shownFrom: CalendarDate(iso: try row.decode(String.self, "shown_from")) ?? startsOn)
        }
    }

    struct PeriodKey: Hashable {
        var dossierID: Int64
        var periodID: Int64
    }

    /// A child's rights in a period, as its planning-open email draws them.
    struct ChildRights {
        var firstName: String
        var lastName: String
        var services: [ServiceRights]
    }

    struct ServiceRights {
        var label: String
        var weekdays: [Int]
        /// The child's reservations of this service in the period (a reopening may find some).
        var reserved: Set<CalendarDate>
    }

    /// Each child's services with rights in the period, by (dossier, period), services by label.
    func childrenRights(_ openings: [DecisionStore.Opening]) throws -> [PeriodKey: [ChildRights]] {
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
                    ChildRights(
                        firstName: try row.decode("first_name"), lastName: try row.decode("last_name"), services: [service]))
            }
            lastChild = childID
        }
        return rights
    }

    /// A rendered email and what it belongs to.
    struct PendingEmail {
        var dossierID: Int64
        var structureID: Int64
        var kind: EmailKind
        var decisionID: Int64?
        var periodID: Int64?
        var email: RenderedEmail
    }

    /// One set-based insert; a (dossier, decision) or (dossier, period) already mailed is skipped,
    /// so a retried batch never makes a second copy. (Array parameters carry no NULL elements:
    /// an empty string stands for a missing decision or period.) The messages go in binary:
    /// a batch's are about a megabyte, and sending them as base64 in an array literal (encoded here,
    /// parsed character by character by the server) cost 10–15 % of the processing rate.
    func insert(_ emails: [PendingEmail]) throws {
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

    /// The planning-open emails written for these openings, read through the (dossier_id,
    /// period_id) index of planning-open emails.
    func planningOpenCount(_ openings: [DecisionStore.Opening]) throws -> Int {
        try connection.query(
            """
            SELECT count(*) AS n FROM email_outbox o
            JOIN unnest($1::bigint[], $2::bigint[]) AS i(dossier_id, period_id) USING (dossier_id, period_id)
            WHERE o.kind = 'planning-open'
            """, [openings.map(\.dossierID), openings.map(\.periodID)]
        ).first?.decode(Int.self, "n") ?? 0
    }

    /// The dossier-processed emails written for these decisions.
    func decisionEmailCount(_ decisionIDs: [Int64]) throws -> Int {
        try connection.query(
            "SELECT count(*) AS n FROM email_outbox WHERE decision_id = ANY($1::bigint[])", [decisionIDs]
        ).first?.decode(Int.self, "n") ?? 0
    }

    // MARK: - A preview's cause

    func dossierID(externalID: String) throws -> Int64? {
        try connection.query("SELECT id FROM dossiers WHERE external_id = $1", [externalID]).first?.decode("id")
    }

    /// The dossier's latest decision that the family is told of.
    func lastToldDecision(ofDossier dossierID: Int64) throws -> Int64? {
        try connection.query(
            "SELECT id FROM decisions WHERE dossier_id = $1 AND outcome <> 'awaiting_review' ORDER BY id DESC LIMIT 1",
            [dossierID]
        ).first?.decode("id")
    }

    /// The dossier's first period with reservation rights.
    func firstPeriodWithRights(ofDossier dossierID: Int64) throws -> Int64? {
        try connection.query(
            "SELECT period_id FROM reservation_rights WHERE dossier_id = $1 ORDER BY period_id LIMIT 1", [dossierID]
        ).first?.decode("period_id")
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

    private static func day(_ row: Row, _ column: String) throws -> CalendarDate {
        let text: String = try row.decode(column)
        guard let day = CalendarDate(iso: text) else {
            throw BackOfficeError(.failure, "\(column) is not a date: \(text)")
        }
        return day
    }
}
