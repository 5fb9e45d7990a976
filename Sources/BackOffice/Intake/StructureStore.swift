import Dossiers
import Postgres

/// The SQL of structures: the catalog a structures file upserts, and lookups by code. Every
/// method runs on the caller's connection, inside the caller's transaction.
struct StructureStore {
    let connection: Connection

    /// The id of the structure `code`, `nil` when there is none.
    func id(code: String) throws -> Int64? {
        try connection.query("SELECT id FROM structures WHERE code = $1", [code]).first?.decode("id")
    }

    /// What an upsert did to a structure's own row.
    enum RowChange: Equatable { case created, updated, unchanged }

    /// Creates the structure or brings its own row up to date (not its kinds, services, periods).
    func upsert(_ structure: Structure) throws -> RowChange {
        let rows = try connection.query(
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
        guard let row = rows.first else { return .unchanged }
        return try row.decode(Bool.self, "created") ? .created : .updated
    }

    /// - Returns: whether the document kind was created or changed.
    func upsert(_ kind: Structure.DocumentKind, structure code: String) throws -> Bool {
        try connection.query(
            """
            INSERT INTO document_kinds AS k (structure_id, kind, label, required)
            SELECT id, $2, $3, $4 FROM structures WHERE code = $1
            ON CONFLICT (structure_id, kind) DO UPDATE SET label = EXCLUDED.label, required = EXCLUDED.required
            WHERE (k.label, k.required) IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.required)
            """, [code, kind.kind, kind.label, kind.required]
        ).rowsAffected > 0
    }

    /// - Returns: whether the service was created or changed.
    func upsert(_ service: Structure.Service, structure code: String) throws -> Bool {
        try connection.query(
            """
            INSERT INTO services AS v (structure_id, code, label, weekdays)
            SELECT id, $2, $3, $4::smallint[] FROM structures WHERE code = $1
            ON CONFLICT (structure_id, code) DO UPDATE SET label = EXCLUDED.label, weekdays = EXCLUDED.weekdays
            WHERE (v.label, v.weekdays) IS DISTINCT FROM (EXCLUDED.label, EXCLUDED.weekdays)
            """, [code, service.code, service.label, service.weekdays]
        ).rowsAffected > 0
    }

    /// - Returns: whether the period was created or changed.
    func upsert(_ period: Structure.Period, structure code: String) throws -> Bool {
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
                code, period.code, period.label, period.startsOn.description,
                period.endsOn.description, period.planningOpensAt, period.closedDates.map(\.description),
            ]
        ).rowsAffected > 0
    }
}
