import Dossiers
import Foundation
import Postgres

/// Everything an administrator needs to see of one dossier (`eticket dossier show`).
public struct DossierDetails: Sendable, Equatable, Codable {
    public struct Account: Sendable, Equatable, Codable {
        public var email: String
        public var firstName: String
        public var lastName: String
        public var termsAcceptedAt: Date?
        public var houseRulesAcceptedAt: Date?
    }

    public struct Child: Sendable, Equatable, Codable {
        public var id: Int64
        /// 1-based, as `EXTERNALID/N` names the child.
        public var number: Int
        public var firstName: String
        public var lastName: String
        public var birthDate: String
        /// Age today, in the structure's time zone.
        public var age: Int
        public var school: String?
        public var grade: String?
        /// Service codes asked for; `nil` means all the structure's services.
        public var services: [String]?
        public var notes: String?
    }

    public struct Guardian: Sendable, Equatable, Codable {
        public var firstName: String
        public var lastName: String
        public var relationship: String?
        public var email: String?
        public var phone: String?
        /// The postal address on one line, `nil` when none was given.
        public var address: String?
        public var payer: Bool
        public var emergencyContact: Bool
        public var notes: String?
    }

    public struct TrustedPerson: Sendable, Equatable, Codable {
        public var firstName: String
        public var lastName: String
        public var relationship: String?
        public var phone: String?
        public var canPickUp: Bool
        public var emergencyContact: Bool
        public var notes: String?
    }

    /// A document kind the structure declares, and how many the dossier holds.
    public struct ExpectedDocument: Sendable, Equatable, Codable {
        public var kind: String
        public var label: String
        public var required: Bool
        public var present: Int
    }

    public struct Document: Sendable, Equatable, Codable {
        public var kind: String
        public var filename: String
        public var mediaType: String
        public var size: Int
        public var notes: String?
    }

    public struct Decision: Sendable, Equatable, Codable {
        public var id: Int64
        public var decidedAt: Date
        public var decidedBy: String
        public var outcome: String
        public var version: Int
        public var findings: [String]
        public var reason: String?
    }

    public struct Event: Sendable, Equatable, Codable {
        public var occurredAt: Date
        public var from: String?
        public var to: String
        public var actor: String
        public var reason: String?
        public var version: Int
    }

    public struct Right: Sendable, Equatable, Codable {
        public var child: String
        public var childNumber: Int
        /// The service's code, and its label as families read it.
        public var service: String
        public var serviceLabel: String
        /// The period's code, and its label.
        public var period: String
        public var periodLabel: String
        public var openedAt: Date
        public var openedBy: String
        /// Reservations made on this right.
        public var reservations: Int
    }

    public struct QueueRow: Sendable, Equatable, Codable {
        public var job: String
        public var period: String?
        public var periodLabel: String?
        public var runAt: Date
        public var attempts: Int
        public var lastError: String?
        public var failedAt: Date?
    }

    /// One of the dossier's emails and its way to the family.
    public struct Email: Sendable, Equatable, Codable {
        public var id: Int64
        public var kind: String
        public var createdAt: Date
        /// `pending`, `sent`, `deferred`, `failed` or `skipped` (``EmailDelivery``).
        public var delivery: String
        public var attempts: Int
        public var deliveredAt: Date?
        public var nextAttemptAt: Date?
        /// The relay's last reply, or what happened to the connection.
        public var reply: String?
        public var exportedAt: Date?
    }

    public var id: Int64
    public var externalID: String
    public var version: Int
    public var state: String
    public var structure: String
    public var structureName: String
    /// The structure's IANA time zone, in which an administrator reads the dossier's times.
    public var timeZone: String
    public var locale: String
    public var confirmed: Bool
    public var submittedAt: Date?
    public var updatedAt: Date
    public var notes: String?
    public var account: Account
    public var children: [Child]
    public var guardians: [Guardian]
    public var trustedPersons: [TrustedPerson]
    /// The structure's document kinds, required first.
    public var expectedDocuments: [ExpectedDocument]
    /// The structure's services by code, with their labels, for the codes the children ask for.
    public var serviceLabels: [String: String]
    public var documents: [Document]
    /// The completeness rules run now on the stored content, as a worker would.
    public var currentFindings: [Finding]
    public var decisions: [Decision]
    public var events: [Event]
    public var rights: [Right]
    public var queue: [QueueRow]
    /// The family's emails about this dossier, oldest first.
    public var emails: [Email] = []

    /// Required kinds with no document.
    public var missingDocuments: [ExpectedDocument] { expectedDocuments.filter { $0.required && $0.present == 0 } }
    /// Documents of no kind the structure declares (`free` and others).
    public var freeDocuments: [Document] {
        let known = Set(expectedDocuments.map(\.kind))
        return documents.filter { !known.contains($0.kind) }
    }
}

extension Administration {
    /// One dossier with its parts, its current findings, its decisions, history, rights and queue.
    ///
    /// - Parameter reference: the external id, or the internal numeric id.
    /// - Throws: ``BackOfficeError`` `.notFound` ("no dossier X").
    public func dossierDetails(_ reference: String) throws -> DossierDetails {
        let id = try dossierID(reference)
        return try database("cannot read dossier \(reference)") {
            try connection.transaction { connection in
                try connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return try readDetails(id, connection)
            }
        }
    }

    private func readDetails(_ id: Int64, _ connection: Connection) throws -> DossierDetails {
        guard
            let row = try connection.query(
                """
                SELECT d.id, d.external_id, d.version, d.state::text AS state, s.code AS structure,
                       s.name AS structure_name, s.timezone, d.locale, d.confirmed, d.submitted_at, d.updated_at,
                       d.notes, a.email, \(EmailOutbox.greetingColumns), d.terms_accepted_at, d.house_rules_accepted_at,
                       to_char(\(DecisionClock.now) AT TIME ZONE s.timezone, 'YYYY-MM-DD') AS today
                FROM dossiers d JOIN structures s ON s.id = d.structure_id JOIN accounts a ON a.id = d.account_id
                WHERE d.id = $1
                """, [id]
            ).first
        else { throw BackOfficeError(.notFound, "no dossier \(id)") }
        let today = CalendarDate(iso: try row.decode(String.self, "today")) ?? CalendarDate(daysSinceEpoch: 0)

        let children = try connection.query(
            """
            SELECT id, position, first_name, last_name, birth_date::text AS birth_date, school, grade,
                   services, notes
            FROM children WHERE dossier_id = $1 ORDER BY position
            """, [id]
        ).map { child in
            let birth: String = try child.decode("birth_date")
            return DossierDetails.Child(
                id: try child.decode("id"), number: try child.decode(Int.self, "position") + 1,
                firstName: try child.decode("first_name"), lastName: try child.decode("last_name"),
                birthDate: birth, age: CalendarDate(iso: birth)?.age(on: today) ?? 0,
                school: try child.decodeIfPresent("school"), grade: try child.decodeIfPresent("grade"),
                services: try child.decodeIfPresent("services"), notes: try child.decodeIfPresent("notes"))
        }
        let guardians = try connection.query(
            """
            SELECT first_name, last_name, relationship, email, phone, payer, emergency_contact, notes,
                   nullif(concat_ws(', ', address_line1, address_line2,
                                    nullif(concat_ws(' ', postal_code, city), '')), '') AS address
            FROM guardians WHERE dossier_id = $1 ORDER BY position
            """, [id]
        ).map { guardian in
            DossierDetails.Guardian(
                firstName: try guardian.decode("first_name"), lastName: try guardian.decode("last_name"),
                relationship: try guardian.decodeIfPresent("relationship"), email: try guardian.decodeIfPresent("email"),
                phone: try guardian.decodeIfPresent("phone"), address: try guardian.decodeIfPresent("address"),
                payer: try guardian.decode("payer"), emergencyContact: try guardian.decode("emergency_contact"),
                notes: try guardian.decodeIfPresent("notes"))
        }
        let trusted = try connection.query(
            """
            SELECT first_name, last_name, relationship, phone, can_pick_up, emergency_contact, notes
            FROM trusted_persons WHERE dossier_id = $1 ORDER BY position
            """, [id]
        ).map { person in
            DossierDetails.TrustedPerson(
                firstName: try person.decode("first_name"), lastName: try person.decode("last_name"),
                relationship: try person.decodeIfPresent("relationship"), phone: try person.decodeIfPresent("phone"),
                canPickUp: try person.decode("can_pick_up"), emergencyContact: try person.decode("emergency_contact"),
                notes: try person.decodeIfPresent("notes"))
        }
        let expected = try connection.query(
            """
            SELECT k.kind, k.label, k.required,
                   (SELECT count(*) FROM documents x WHERE x.dossier_id = d.id AND x.kind = k.kind) AS present
            FROM dossiers d JOIN document_kinds k ON k.structure_id = d.structure_id
            WHERE d.id = $1 ORDER BY k.required DESC, k.kind
            """, [id]
        ).map { kind in
            DossierDetails.ExpectedDocument(
                kind: try kind.decode("kind"), label: try kind.decode("label"), required: try kind.decode("required"),
                present: try kind.decode("present"))
        }
        let documents = try connection.query(
            "SELECT kind, filename, media_type, size, notes FROM documents WHERE dossier_id = $1 ORDER BY position", [id]
        ).map { document in
            DossierDetails.Document(
                kind: try document.decode("kind"), filename: try document.decode("filename"),
                mediaType: try document.decode("media_type"), size: try document.decode("size"),
                notes: try document.decodeIfPresent("notes"))
        }
        let decisions = try connection.query(
            """
            SELECT id, decided_at, decided_by, outcome::text AS outcome, dossier_version, reason,
                   coalesce((SELECT array_agg(f->>'code') FROM jsonb_array_elements(findings) f), '{}') AS findings
            FROM decisions WHERE dossier_id = $1 ORDER BY id
            """, [id]
        ).map { decision in
            DossierDetails.Decision(
                id: try decision.decode("id"), decidedAt: try decision.decode("decided_at"),
                decidedBy: try decision.decode("decided_by"), outcome: try decision.decode("outcome"),
                version: try decision.decode("dossier_version"), findings: try decision.decode("findings"),
                reason: try decision.decodeIfPresent("reason"))
        }
        let events = try connection.query(
            """
            SELECT occurred_at, from_state::text AS from_state, to_state::text AS to_state, actor, reason, dossier_version
            FROM dossier_events WHERE dossier_id = $1 ORDER BY id
            """, [id]
        ).map { event in
            DossierDetails.Event(
                occurredAt: try event.decode("occurred_at"), from: try event.decodeIfPresent("from_state"),
                to: try event.decode("to_state"), actor: try event.decode("actor"), reason: try event.decodeIfPresent("reason"),
                version: try event.decode("dossier_version"))
        }
        let rights = try connection.query(
            """
            SELECT c.first_name, c.position, s.code AS service, s.label AS service_label, p.code AS period,
                   p.label AS period_label, r.opened_at, r.opened_by,
                   (SELECT count(*) FROM reservations x
                    WHERE x.child_id = r.child_id AND x.service_id = r.service_id AND x.period_id = r.period_id) AS reservations
            FROM reservation_rights r JOIN children c ON c.id = r.child_id
            JOIN services s ON s.id = r.service_id JOIN periods p ON p.id = r.period_id
            WHERE r.dossier_id = $1 ORDER BY c.position, p.starts_on, s.code
            """, [id]
        ).map { right in
            DossierDetails.Right(
                child: try right.decode("first_name"), childNumber: try right.decode(Int.self, "position") + 1,
                service: try right.decode("service"), serviceLabel: try right.decode("service_label"),
                period: try right.decode("period"), periodLabel: try right.decode("period_label"),
                openedAt: try right.decode("opened_at"), openedBy: try right.decode("opened_by"),
                reservations: try right.decode("reservations"))
        }
        let queue = try connection.query(
            """
            SELECT q.job::text AS job, p.code AS period, p.label AS period_label, q.run_at, q.attempts, q.last_error,
                   q.failed_at
            FROM dossier_queue q LEFT JOIN periods p ON p.id = q.period_id WHERE q.dossier_id = $1 ORDER BY q.id
            """, [id]
        ).map { item in
            DossierDetails.QueueRow(
                job: try item.decode("job"), period: try item.decodeIfPresent("period"),
                periodLabel: try item.decodeIfPresent("period_label"), runAt: try item.decode("run_at"),
                attempts: try item.decode("attempts"), lastError: try item.decodeIfPresent("last_error"),
                failedAt: try item.decodeIfPresent("failed_at"))
        }

        let emails = try connection.query(
            """
            SELECT id, kind::text AS kind, created_at, delivery::text AS delivery, delivery_attempts, delivered_at,
                   next_attempt_at, delivery_reply, exported_at
            FROM email_outbox WHERE dossier_id = $1 ORDER BY id
            """, [id]
        ).map { email in
            DossierDetails.Email(
                id: try email.decode("id"), kind: try email.decode("kind"), createdAt: try email.decode("created_at"),
                delivery: try email.decode("delivery"), attempts: try email.decode("delivery_attempts"),
                deliveredAt: try email.decodeIfPresent("delivered_at"), nextAttemptAt: try email.decodeIfPresent("next_attempt_at"),
                reply: try email.decodeIfPresent("delivery_reply"), exportedAt: try email.decodeIfPresent("exported_at"))
        }

        var serviceLabels: [String: String] = [:]
        for service in try connection.query(
            "SELECT v.code, v.label FROM dossiers d JOIN services v ON v.structure_id = d.structure_id WHERE d.id = $1", [id])
        {
            serviceLabels[try service.decode("code")] = try service.decode("label")
        }

        // The rules exactly as a worker would run them now: the stored content, the structure's policy.
        let store = DossierStore(connection: connection)
        var findings: [Finding] = []
        if let loaded = try store.load([id]).first,
            let structure = try store.structures([loaded.structureID])[loaded.structureID]
        {
            findings = CompletenessRules.findings(for: loaded.dossier, policy: structure.policy)
        }

        return DossierDetails(
            id: try row.decode("id"), externalID: try row.decode("external_id"), version: try row.decode("version"),
            state: try row.decode("state"), structure: try row.decode("structure"),
            structureName: try row.decode("structure_name"), timeZone: try row.decode("timezone"),
            locale: try row.decode("locale"),
            confirmed: try row.decode("confirmed"), submittedAt: try row.decodeIfPresent("submitted_at"),
            updatedAt: try row.decode("updated_at"), notes: try row.decodeIfPresent("notes"),
            account: .init(
                email: try row.decode("email"), firstName: try row.decode("first_name"),
                lastName: try row.decode("last_name"), termsAcceptedAt: try row.decodeIfPresent("terms_accepted_at"),
                houseRulesAcceptedAt: try row.decodeIfPresent("house_rules_accepted_at")),
            children: children, guardians: guardians, trustedPersons: trusted, expectedDocuments: expected,
            serviceLabels: serviceLabels,
            documents: documents, currentFindings: findings, decisions: decisions, events: events, rights: rights,
            queue: queue, emails: emails)
    }
}
