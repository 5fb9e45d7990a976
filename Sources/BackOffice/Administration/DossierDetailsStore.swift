import Dossiers
import Foundation
import Postgres

/// The SQL of `dossier show`: one dossier, part by part. Every method runs on the caller's
/// connection, inside the caller's transaction (a repeatable-read one, so that the parts agree).
struct DossierDetailsStore {
    let connection: Connection

    /// Makes the caller's transaction a consistent, read-only snapshot; its first statement.
    func beginSnapshot() throws {
        try connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    }

    /// The dossier's own row, its account and structure, with its parts left empty; and the
    /// structure's date today (by the decision clock), from which the children's ages count.
    func header(dossierID id: Int64) throws -> (details: DossierDetails, today: CalendarDate)? {
        guard
            let row = try connection.query(
                """
                SELECT d.id, d.external_id, d.version, d.state, s.code AS structure,
                       s.name AS structure_name, s.timezone, d.locale, d.confirmed, d.submitted_at, d.updated_at,
                       d.notes, a.email, coalesce(d.content->'account'->>'first_name', a.first_name) AS first_name,
                       coalesce(d.content->'account'->>'last_name', a.last_name) AS last_name, d.terms_accepted_at, d.house_rules_accepted_at,
                       to_char(\(DecisionClock.now) AT TIME ZONE s.timezone, 'YYYY-MM-DD') AS today
                FROM dossiers d JOIN structures s ON s.id = d.structure_id JOIN accounts a ON a.id = d.account_id
                WHERE d.id = $1
                """, [id]
            ).first
        else { return nil }
        let details = DossierDetails(
            id: try row.decode("id"), externalID: try row.decode("external_id"), version: try row.decode("version"),
            state: try row.decode(DossierState.self, "state"), structure: try row.decode("structure"),
            structureName: try row.decode("structure_name"), timeZone: try row.decode("timezone"),
            locale: try row.decode("locale"),
            confirmed: try row.decode("confirmed"), submittedAt: try row.decodeIfPresent("submitted_at"),
            updatedAt: try row.decode("updated_at"), notes: try row.decodeIfPresent("notes"),
            account: .init(
                email: try row.decode("email"), firstName: try row.decode("first_name"),
                lastName: try row.decode("last_name"), termsAcceptedAt: try row.decodeIfPresent("terms_accepted_at"),
                houseRulesAcceptedAt: try row.decodeIfPresent("house_rules_accepted_at")),
            children: [], guardians: [], trustedPersons: [], expectedDocuments: [], serviceLabels: [:], documents: [],
            currentFindings: [], decisions: [], events: [], rights: [], queue: [], emails: [])
        return (details, CalendarDate(iso: try row.decode(String.self, "today")) ?? CalendarDate(daysSinceEpoch: 0))
    }

    /// The children, in the dossier's order, their ages on `today`.
    func children(dossierID id: Int64, today: CalendarDate) throws -> [DossierDetails.Child] {
        try connection.query(
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
    }

    /// The guardians, in the dossier's order.
    func guardians(dossierID id: Int64) throws -> [DossierDetails.Guardian] {
        try connection.query(
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
    }

    /// The trusted persons, in the dossier's order.
    func trustedPersons(dossierID id: Int64) throws -> [DossierDetails.TrustedPerson] {
        try connection.query(
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
    }

    /// The structure's document kinds, required first, with how many the dossier holds.
    func expectedDocuments(dossierID id: Int64) throws -> [DossierDetails.ExpectedDocument] {
        try connection.query(
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
    }

    /// The documents, in the dossier's order.
    func documents(dossierID id: Int64) throws -> [DossierDetails.Document] {
        try connection.query(
            "SELECT kind, filename, media_type, size, notes FROM documents WHERE dossier_id = $1 ORDER BY position", [id]
        ).map { document in
            DossierDetails.Document(
                kind: try document.decode("kind"), filename: try document.decode("filename"),
                mediaType: try document.decode("media_type"), size: try document.decode("size"),
                notes: try document.decodeIfPresent("notes"))
        }
    }

    /// The decisions, oldest first.
    func decisions(dossierID id: Int64) throws -> [DossierDetails.Decision] {
        try connection.query(
            """
            SELECT id, decided_at, decided_by, outcome, dossier_version, reason,
                   coalesce((SELECT array_agg(f->>'code') FROM jsonb_array_elements(findings) f), '{}') AS findings
            FROM decisions WHERE dossier_id = $1 ORDER BY id
            """, [id]
        ).map { decision in
            DossierDetails.Decision(
                id: try decision.decode("id"), decidedAt: try decision.decode("decided_at"),
                decidedBy: try decision.decode("decided_by"), outcome: try decision.decode(Outcome.self, "outcome"),
                version: try decision.decode("dossier_version"), findings: try decision.decode("findings"),
                reason: try decision.decodeIfPresent("reason"))
        }
    }

    /// The state changes, oldest first.
    func events(dossierID id: Int64) throws -> [DossierDetails.Event] {
        try connection.query(
            """
            SELECT occurred_at, from_state, to_state, actor, reason, dossier_version
            FROM dossier_events WHERE dossier_id = $1 ORDER BY id
            """, [id]
        ).map { event in
            DossierDetails.Event(
                occurredAt: try event.decode("occurred_at"),
                from: try event.decodeIfPresent(DossierState.self, "from_state"),
                to: try event.decode(DossierState.self, "to_state"), actor: try event.decode("actor"),
                reason: try event.decodeIfPresent("reason"),
                version: try event.decode("dossier_version"))
        }
    }

    /// The reservation rights, by child, period and service.
    func rights(dossierID id: Int64) throws -> [DossierDetails.Right] {
        try connection.query(
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
    }

    /// The queue rows, in queue order.
    func queue(dossierID id: Int64) throws -> [DossierDetails.QueueRow] {
        try connection.query(
            """
            SELECT q.job, p.code AS period, p.label AS period_label, q.run_at, q.attempts, q.last_error,
                   q.failed_at
            FROM dossier_queue q LEFT JOIN periods p ON p.id = q.period_id WHERE q.dossier_id = $1 ORDER BY q.id
            """, [id]
        ).map { item in
            DossierDetails.QueueRow(
                job: try item.decode(QueueItem.Job.self, "job"), period: try item.decodeIfPresent("period"),
                periodLabel: try item.decodeIfPresent("period_label"), runAt: try item.decode("run_at"),
                attempts: try item.decode("attempts"), lastError: try item.decodeIfPresent("last_error"),
                failedAt: try item.decodeIfPresent("failed_at"))
        }
    }

    /// The family's emails about the dossier, oldest first.
    func emails(dossierID id: Int64) throws -> [DossierDetails.Email] {
        try connection.query(
            """
            SELECT id, kind::text AS kind, created_at, delivery, delivery_attempts, delivered_at,
                   next_attempt_at, delivery_reply, exported_at
            FROM email_outbox WHERE dossier_id = $1 ORDER BY id
            """, [id]
        ).map { email in
            DossierDetails.Email(
                id: try email.decode("id"), kind: try email.decode("kind"), createdAt: try email.decode("created_at"),
                delivery: try email.decode(EmailDelivery.self, "delivery"),
                attempts: try email.decode("delivery_attempts"),
                deliveredAt: try email.decodeIfPresent("delivered_at"),
                nextAttemptAt: try email.decodeIfPresent("next_attempt_at"),
                reply: try email.decodeIfPresent("delivery_reply"), exportedAt: try email.decodeIfPresent("exported_at"))
        }
    }

    /// The labels of the services of the dossier's structure, by code.
    func serviceLabels(dossierID id: Int64) throws -> [String: String] {
        var labels: [String: String] = [:]
        for service in try connection.query(
            "SELECT v.code, v.label FROM dossiers d JOIN services v ON v.structure_id = d.structure_id WHERE d.id = $1", [id])
        {
            labels[try service.decode("code")] = try service.decode("label")
        }
        return labels
    }
}
