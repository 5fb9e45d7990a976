import Dossiers
import Foundation
import Postgres

/// What applying a structures file changed, per structure.
public struct StructureApplyReport: Sendable, Equatable {
    public enum Change: String, Sendable { case created, updated, unchanged }
    public var structures: [(code: String, change: Change)] = []

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.structures.elementsEqual(rhs.structures) { $0.code == $1.code && $0.change == $1.change }
    }
}

/// Applies the structures file (`contracts/structures.schema.json`) idempotently: what the file
/// names is created or brought up to date; what it does not name is left as it is.
public struct StructureCatalog {
    let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Applies all `structures` in one transaction: a file applies whole or not at all.
    public func apply(_ structures: [Structure]) throws -> StructureApplyReport {
        try database("cannot apply the structures") {
            try connection.transaction { _ in
                var report = StructureApplyReport()
                for (index, structure) in structures.enumerated() {
                    report.structures.append((structure.code, try apply(structure, at: "$.structures[\(index)]")))
                }
                return report
            }
        }
    }

    private func apply(_ structure: Structure, at path: String) throws -> StructureApplyReport.Change {
        let upsert = try statement(at: path) {
            try connection.query(
            """
            INSERT INTO structures AS s (code, name, postal_codes, registration_code, timezone, locale,
                sender_name, sender_email, reply_to, portal_url, review, rights_opening, display_name, logo_url,
                accent_color, contact_phone, contact_address, contact_hours)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, postal_codes = EXCLUDED.postal_codes,
                registration_code = EXCLUDED.registration_code, timezone = EXCLUDED.timezone,
                locale = EXCLUDED.locale, sender_name = EXCLUDED.sender_name,
                sender_email = EXCLUDED.sender_email, reply_to = EXCLUDED.reply_to,
                portal_url = EXCLUDED.portal_url, review = EXCLUDED.review,
                rights_opening = EXCLUDED.rights_opening, display_name = EXCLUDED.display_name,
                logo_url = EXCLUDED.logo_url, accent_color = EXCLUDED.accent_color,
                contact_phone = EXCLUDED.contact_phone, contact_address = EXCLUDED.contact_address,
                contact_hours = EXCLUDED.contact_hours, updated_at = now()
            WHERE (s.name, s.postal_codes, s.registration_code, s.timezone, s.locale, s.sender_name,
                   s.sender_email, s.reply_to, s.portal_url, s.review, s.rights_opening, s.display_name,
                   s.logo_url, s.accent_color, s.contact_phone, s.contact_address, s.contact_hours)
                IS DISTINCT FROM
                  (EXCLUDED.name, EXCLUDED.postal_codes, EXCLUDED.registration_code, EXCLUDED.timezone,
                   EXCLUDED.locale, EXCLUDED.sender_name, EXCLUDED.sender_email, EXCLUDED.reply_to,
                   EXCLUDED.portal_url, EXCLUDED.review, EXCLUDED.rights_opening, EXCLUDED.display_name,
                   EXCLUDED.logo_url, EXCLUDED.accent_color, EXCLUDED.contact_phone, EXCLUDED.contact_address,
                   EXCLUDED.contact_hours)
            RETURNING (xmax = 0) AS created
            """,
            [
                structure.code, structure.name, structure.postalCodes, structure.registrationCode,
                structure.timezone, structure.language.rawValue, structure.sender.name, structure.sender.email,
                structure.sender.replyTo, structure.portalURL, structure.review.rawValue,
                structure.rightsOpening.rawValue, structure.branding.displayName, structure.branding.logoURL,
                structure.branding.accentColor.map { Branding.accentColor($0) ?? $0 }, structure.branding.phone,
                structure.branding.address, structure.branding.openingHours,
            ])
        }
        var changed = 0
        for (index, kind) in structure.documentKinds.enumerated() {
            changed += try statement(at: "\(path).documents[\(index)]") {
                try connection.query(
                """
                INSERT INTO document_kinds AS k (structure_id, kind, label, required)
                SELECT id, $2, $3, $4 FROM structures WHERE code = $1
                ON CONFLICT (structure_id, kind) DO UPDATE SET label = EXCLUDED.label, required = EXCLUDED.required
                WHERE (k.label, k.required) IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.required)
                """, [structure.code, kind.kind, kind.label, kind.required])
            }.rowsAffected
        }
        for (index, service) in structure.services.enumerated() {
            changed += try statement(at: "\(path).services[\(index)]") {
                try connection.query(
                """
                INSERT INTO services AS v (structure_id, code, label, weekdays)
                SELECT id, $2, $3, $4::smallint[] FROM structures WHERE code = $1
                ON CONFLICT (structure_id, code) DO UPDATE SET label = EXCLUDED.label, weekdays = EXCLUDED.weekdays
                WHERE (v.label, v.weekdays) IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.weekdays)
                """, [structure.code, service.code, service.label, service.weekdays])
            }.rowsAffected
        }
        for (index, period) in structure.periods.enumerated() {
            changed += try statement(at: "\(path).periods[\(index)]") {
                try connection.query(
                """
                INSERT INTO periods AS p (structure_id, code, label, starts_on, ends_on, planning_opens_at, closed_dates)
                SELECT id, $2, $3, $4::date, $5::date, $6, $7::date[] FROM structures WHERE code = $1
                ON CONFLICT (structure_id, code) DO UPDATE SET label = EXCLUDED.label,
                    starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on,
                    planning_opens_at = EXCLUDED.planning_opens_at, closed_dates = EXCLUDED.closed_dates
                WHERE (p.label, p.starts_on, p.ends_on, p.planning_opens_at, p.closed_dates)
                    IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.starts_on, EXCLUDED.ends_on,
                                      EXCLUDED.planning_opens_at, EXCLUDED.closed_dates)
                """,
                [
                    structure.code, period.code, period.label, period.startsOn.description,
                    period.endsOn.description, period.planningOpensAt, period.closedDates.map(\.description),
                ])
            }.rowsAffected
        }
        if let row = upsert.first, try row.decode(Bool.self, "created") { return .created }
        return upsert.isEmpty && changed == 0 ? .unchanged : .updated
    }

    /// The file's fields behind the constraints the contract does not repeat.
    static let constraintFields = [
        "structures_timezone_check": ".timezone", "structures_registration_code_key": ".registration_code",
        "structures_sender_email_check": ".sender.email", "structures_reply_to_check": ".sender.reply_to",
        "structures_portal_url_check": ".portal_url", "document_kinds_kind_check": ".kind",
        "structures_display_name_check": ".branding.display_name", "structures_logo_url_check": ".branding.logo_url",
        "structures_accent_color_check": ".branding.accent_color",
        "structures_contact_phone_check": ".branding.contact.phone",
        "structures_contact_address_check": ".branding.contact.address",
        "structures_contact_hours_check": ".branding.contact.opening_hours",
    ]

    /// Runs one statement for the part of the file at `path`. A check or unique constraint the
    /// schema cannot express (a time zone PostgreSQL does not know, another structure's
    /// registration code, the reserved document kind `free`) is the file's fault: bad input, with
    /// the path.
    private func statement(at path: String, _ body: () throws -> QueryResult) throws -> QueryResult {
        do {
            return try body()
        } catch let error as PostgresError where error.sqlState == "23514" || error.sqlState == "23505" {
            let field = error.constraint.flatMap { Self.constraintFields[$0] } ?? ""
            throw BackOfficeError(.badInput, "\(path)\(field): \(error.message)", underlying: error)
        }
    }
}
