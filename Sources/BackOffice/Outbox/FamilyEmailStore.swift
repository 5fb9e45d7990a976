import Dossiers
import Foundation
import Mail
import Postgres

/// The outbox's writing side: what is particular to each of the family's emails (read from the
/// dossier, its account, its structure, its decision and its rights) written as a row to render
/// later. The rendering and delivery side is ``OutboxStore``. Every method runs on the caller's
/// connection, inside the caller's transaction: an email is written with the decision or the
/// opening that causes it.
struct FamilyEmailStore {
    let connection: Connection

    /// The emails written, by kind.
    struct Written: Equatable {
        var dossierProcessed = 0
        var planningOpen = 0
    }

    /// An email whose particulars the caller built: a worker's, for the dossier it has just
    /// judged (``EmailParticulars/init(decision:of:in:)``) and the rights it has just opened
    /// (``EmailParticulars/init(firstOpening:of:in:)``).
    struct BuiltEmail {
        var dossierID: Int64
        var cause: Cause
        var particulars: EmailParticulars
        /// The structures read to build it, as they were read (checked when the email is written).
        var catalog: CatalogPrint

        enum Cause: Equatable {
            /// A dossier-processed email, of this told decision (not `awaiting_review`).
            case decision(Int64)
            /// A planning-open email, of the rights opened in this period.
            case opening(period: Int64)
        }

        var opensPlanning: Bool {
            if case .opening = cause { true } else { false }
        }
    }

    /// Writes, in one statement, the dossier-processed email of each decision the family is told
    /// of (not `awaiting_review`) and the planning-open email of each opening, their particulars
    /// read from the database by the statement itself, and the emails `built` by the caller, whose
    /// addresses only are read; stores `templates` first when the database does not have them. A
    /// decision or a (dossier, period) already mailed is skipped, so a retried batch never makes a
    /// second copy. A built email whose structure changed since its particulars were read fails
    /// the statement with a serialization failure (40001, `structure_catalogs_changed`): the
    /// caller writes its batch again.
    ///
    /// A decision's email is skipped by a probe of its unique index: its decision is new in this
    /// transaction, so no other can be mailing it. An opening's is skipped by `ON CONFLICT` on its
    /// index alone, because two transactions opening other children of the same dossier and period
    /// (`rights open --service`) do not lock each other. (`ON CONFLICT DO NOTHING` without a target
    /// had checked every unique index of the outbox before each row.)
    @discardableResult
    func insert(
        decisions decisionIDs: [Int64], openings: [DecisionStore.Opening], built: [BuiltEmail] = [],
        templates: StoredTemplateSet
    ) throws -> Written {
        guard !decisionIDs.isEmpty || !openings.isEmpty || !built.isEmpty else { return Written() }
        var builtDecisions = BuiltColumns()
        var builtOpenings = BuiltColumns()
        for email in built {
            switch email.cause {
            case .decision(let id): builtDecisions.append(email, cause: id)
            case .opening(let period): builtOpenings.append(email, cause: period)
            }
        }
        let catalogs = Set(built.map(\.catalog))
        precondition(catalogs.count <= 1, "a statement's built emails come from one read of the structures")
        var written = Written()
        for row in try connection.query(
            """
            WITH catalogs AS MATERIALIZED (
                SELECT CASE WHEN $13::text IS NULL OR \(DossierStore.catalogPrint(of: "$12::bigint[]")) = $13 THEN true
                            ELSE structure_catalogs_changed() END AS unchanged
            ), stored_set AS (
                INSERT INTO email_template_sets (files)
                SELECT $4 WHERE NOT EXISTS (SELECT 1 FROM email_template_sets WHERE sha256 = $5)
                ON CONFLICT DO NOTHING
            ), decision_emails AS (
                \(Self.insertEmails(from: Self.decisionEmails))
                WHERE NOT EXISTS (SELECT FROM email_outbox o WHERE o.decision_id = e.decision_id)
                RETURNING kind
            ), opening_emails AS (
                \(Self.insertEmails(from: Self.openingEmails))
                ON CONFLICT (dossier_id, period_id) WHERE kind = 'planning-open' DO NOTHING
                RETURNING kind
            )
            SELECT kind::text AS kind FROM decision_emails UNION ALL SELECT kind::text FROM opening_emails
            """,
            [
                decisionIDs.postgresBinary, openings.map(\.dossierID).postgresBinary, openings.map(\.periodID).postgresBinary,
                templates.archive, templates.sha256,
                builtDecisions.dossiers.postgresBinary, builtDecisions.causes.postgresBinary,
                builtDecisions.particulars.postgresBinary, builtOpenings.dossiers.postgresBinary,
                builtOpenings.causes.postgresBinary, builtOpenings.particulars.postgresBinary,
                (catalogs.first?.structures ?? []).postgresBinary, catalogs.first?.print,
                builtDecisions.messageUUIDs.postgresBinary, builtOpenings.messageUUIDs.postgresBinary,
            ])
        {
            switch try row.decode(EmailKind.self, "kind") {
            case .dossierProcessed: written.dossierProcessed += 1
            case .planningOpen: written.planningOpen += 1
            }
        }
        return written
    }

    /// An `INSERT` of the emails `particulars` selects (as `e`), with the template set `$5`.
    private static func insertEmails(from particulars: String) -> String {
        """
        INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient,
            particulars, template_set)
        SELECT e.dossier_id, e.structure_id, e.kind, e.decision_id, e.period_id, \(messageID),
               e.sender, e.recipient, e.particulars, $5
        FROM (\(particulars)) e
        """
    }

    /// What a dossier-processed email says of its family, one row per decision of `$1` the family
    /// is told of: its language, the dossier, the names the family gave, the children, and, for a
    /// validated dossier, when the children can reserve (by the structure's rights opening: with
    /// the validation, at the next period's `planning_opens_at`, or when the structure opens them,
    /// also when no period is left to open). The decision's outcome and findings are read with the
    /// email when it is rendered.
    static let decisionParticulars = """
        SELECT 'dossier-processed'::email_kind AS kind, d.id AS dossier_id, d.structure_id, x.id AS decision_id,
               NULL::bigint AS period_id, a.email AS recipient, s.sender_email AS sender, gen_random_uuid()::text AS message_uuid,
               json_build_object(
                   'language', d.locale, 'dossier', d.external_id, \(greeting),
                   'children', ARRAY(SELECT json_build_object('first_name', c.first_name, 'last_name', c.last_name)
                                     FROM children c WHERE c.dossier_id = d.id ORDER BY c.position),
                   'next_step', CASE
                       WHEN x.outcome <> 'validated' THEN NULL
                       WHEN NOT EXISTS (SELECT FROM periods p WHERE p.structure_id = s.id
                                        AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date) THEN 'manual'
                       WHEN s.rights_opening = 'on_validation' THEN 'now'
                       WHEN s.rights_opening = 'manual' THEN 'manual'
                       ELSE coalesce((SELECT extract(epoch FROM min(p.planning_opens_at))::text FROM periods p
                                      WHERE p.structure_id = s.id
                                        AND p.ends_on >= (\(DecisionClock.now) AT TIME ZONE s.timezone)::date
                                        AND p.planning_opens_at > \(DecisionClock.now)), 'now') END) AS particulars
        FROM decisions x
        JOIN dossier_records d ON d.id = x.dossier_id
        JOIN accounts a ON a.id = d.account_id
        JOIN structures s ON s.id = d.structure_id
        WHERE x.id = ANY($1::bigint[]) AND x.outcome <> 'awaiting_review'
        """

    /// What a planning-open email says of its family, one row per (dossier `$2`, period `$3`): its
    /// language, the dossier, the names, the first day drawn (the period's start, or today in the
    /// structure's time zone for a period under way), and each child with rights in the period,
    /// with its services (label and weekdays, by label) and the days it has already reserved (a
    /// reopening may find some). The period's label, dates and closed days are read when rendered.
    static let openingParticulars = """
        SELECT 'planning-open'::email_kind AS kind, d.id AS dossier_id, d.structure_id, NULL::bigint AS decision_id,
               o.period_id, a.email AS recipient, s.sender_email AS sender, gen_random_uuid()::text AS message_uuid,
               json_build_object(
                   'language', d.locale, 'dossier', d.external_id, \(greeting),
                   'shown_from', greatest(p.starts_on, (\(DecisionClock.now) AT TIME ZONE s.timezone)::date),
                   'children', coalesce((
                       SELECT json_agg(json_build_object('first_name', c.first_name, 'last_name', c.last_name,
                                                         'services', r.services) ORDER BY c.position)
                       FROM (SELECT r.child_id,
                                    json_agg(json_build_object('label', v.label, 'weekdays', v.weekdays, 'reserved', ARRAY(
                                                 SELECT x.day FROM reservations x
                                                 WHERE x.child_id = r.child_id AND x.service_id = r.service_id
                                                   AND x.period_id = r.period_id ORDER BY x.day))
                                             ORDER BY v.label, v.code) AS services
                             FROM reservation_rights r JOIN services v ON v.id = r.service_id
                             WHERE r.dossier_id = o.dossier_id AND r.period_id = o.period_id
                             GROUP BY r.child_id) r
                       JOIN children c ON c.id = r.child_id), '[]')) AS particulars
        FROM unnest($2::bigint[], $3::bigint[]) AS o(dossier_id, period_id)
        JOIN dossier_records d ON d.id = o.dossier_id
        JOIN accounts a ON a.id = d.account_id
        JOIN structures s ON s.id = d.structure_id
        JOIN periods p ON p.id = o.period_id
        """

    /// A new email's Message-ID, `uuid@domain`, of the email `e` selected: its `message_uuid` and
    /// the domain of its sender (as `makeMessageID` in Mail), what follows the sender's last `@`
    /// (the whole address when it has none). `split_part`, not a regular expression: the
    /// expression had cost a worker's backend 1 % of its instructions.
    static let messageID =
        "e.message_uuid || '@' || coalesce(nullif(split_part(e.sender, '@', -1), ''), 'localhost')"

    /// A built email's `message_uuid`: random, lower-case, as gen_random_uuid() writes it.
    static func newMessageUUID() -> String { UUID().uuidString.lowercased() }

    /// Built emails of one kind as the statement's parallel arrays. Their Message-IDs are drawn
    /// here: the server's gen_random_uuid() had cost its backend 1 % of its instructions.
    private struct BuiltColumns {
        var dossiers: [Int64] = []
        /// The decision or the period.
        var causes: [Int64] = []
        var particulars: [String] = []
        var messageUUIDs: [String] = []

        mutating func append(_ email: BuiltEmail, cause: Int64) {
            dossiers.append(email.dossierID)
            causes.append(cause)
            particulars.append(email.particulars.jsonText)
            messageUUIDs.append(FamilyEmailStore.newMessageUUID())
        }
    }

    /// The names the family gave in this dossier. The account row holds whatever the account's
    /// latest import said, which may be another dossier's names; the stored account row is only
    /// the fallback for a dossier whose content is gone.
    static let greeting = """
        'first_name', coalesce(d.content->'account'->>'first_name', a.first_name),
        'last_name', coalesce(d.content->'account'->>'last_name', a.last_name)
        """

    /// The dossier-processed emails to write: the database's particulars of decisions `$1`, and
    /// the caller's (`$6` dossiers, `$7` decisions, `$8` particulars, `$14` Message-ID uuids).
    private static let decisionEmails = """
        \(decisionParticulars)
        UNION ALL \(built("dossier-processed", "$6::bigint[], $7::bigint[], $8::text[], $14::text[]"))
        """

    /// The planning-open emails to write: the database's particulars of openings `$2`, `$3`, and
    /// the caller's (`$9` dossiers, `$10` periods, `$11` particulars, `$15` Message-ID uuids).
    private static let openingEmails = """
        \(openingParticulars)
        UNION ALL \(built("planning-open", "$9::bigint[], $10::bigint[], $11::text[], $15::text[]"))
        """

    /// The `kind` emails whose (dossier, decision or period, particulars, Message-ID uuid) are the
    /// arrays `parameters`, their particulars built by the caller: only the addresses are read here.
    private static func built(_ kind: String, _ parameters: String) -> String {
        let cause =
            kind == "planning-open"
            ? "NULL::bigint AS decision_id, b.cause AS period_id" : "b.cause AS decision_id, NULL::bigint AS period_id"
        return """
            SELECT '\(kind)'::email_kind AS kind, d.id AS dossier_id, d.structure_id, \(cause),
                   a.email AS recipient, s.sender_email AS sender, b.message_uuid, b.particulars::json AS particulars
            FROM unnest(\(parameters)) AS b(dossier_id, cause, particulars, message_uuid)
            JOIN dossier_records d ON d.id = b.dossier_id
            JOIN accounts a ON a.id = d.account_id
            JOIN structures s ON s.id = d.structure_id
            -- Any row written makes the structures' check run (it raises rather than filters).
            CROSS JOIN catalogs c WHERE c.unchanged
            """
    }

    /// The email a decision or an opening would write, rendered from the database as it is now,
    /// with nothing stored: an administrator's preview.
    func preview(decision decisionID: Int64?, opening: DecisionStore.Opening?) throws -> StoredEmail? {
        try connection.queryBinary(
            """
            SELECT 0::bigint AS id, e.kind::text AS kind, e.dossier_id, e.decision_id, e.period_id,
                   \(Self.messageID) AS message_id,
                   e.sender, e.recipient, now() AS created_at, NULL::bytea AS message, NULL::bytea AS template_set,
                   e.particulars::text AS particulars, e.structure_id, \(OutboxStore.renderedColumns)
            FROM (\(Self.decisionParticulars) UNION ALL \(Self.openingParticulars)) e
            \(OutboxStore.renderedJoins)
            """,
            [
                decisionID.map { [$0] } ?? [], opening.map { [$0.dossierID] } ?? [], opening.map { [$0.periodID] } ?? [],
            ]
        ).first.map(StoredEmail.init)
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
}
