import Dossiers
import Postgres

/// The SQL of a child's planning: who the child is, the periods and services of a month. Every
/// method runs on the caller's connection, inside the caller's transaction.
struct PlanningStore {
    let connection: Connection

    /// How support staff name a child: `children.id` as typed, or a dossier and a 0-based position.
    enum ChildKey: Equatable {
        /// The id as the user typed it, compared as text so that `007` names no child.
        case id(String)
        case position(dossier: String, index: Int)
    }

    func child(_ key: ChildKey) throws -> ChildReference? {
        let (dossier, index, idText): (String?, Int?, String?) =
            switch key {
            case .id(let text): (nil, nil, text)
            case .position(let dossier, let index): (dossier, index, nil)
            }
        return try connection.query(
            """
            SELECT c.id, c.first_name, d.id AS dossier_id, d.external_id, s.id AS structure_id, s.code AS structure
            FROM children c JOIN dossiers d ON d.id = c.dossier_id JOIN structures s ON s.id = d.structure_id
            WHERE CASE WHEN $1::text IS NULL THEN c.id::text = $3
                       ELSE d.external_id = $1 AND c.position = $2 END
            """, [dossier, index, idText]
        ).first.map { row in
            ChildReference(
                id: try row.decode("id"), firstName: try row.decode("first_name"), dossierID: try row.decode("dossier_id"),
                dossier: try row.decode("external_id"), structureID: try row.decode("structure_id"),
                structure: try row.decode("structure"))
        }
    }

    /// A period that overlaps a month, with its closed dates.
    struct Period: Equatable {
        var id: Int64
        var code: String
        var startsOn: CalendarDate
        var endsOn: CalendarDate
        var closed: Set<CalendarDate>
    }

    /// The structure's periods that overlap `first...last`, in date order.
    func periods(structureID: Int64, overlapping first: CalendarDate, _ last: CalendarDate) throws -> [Period] {
        try connection.query(
            """
            SELECT p.id, p.code, p.starts_on::text AS starts_on, p.ends_on::text AS ends_on,
                   p.closed_dates::text[] AS closed_dates
            FROM periods p WHERE p.structure_id = $1 AND p.starts_on <= $3::date AND p.ends_on >= $2::date
            ORDER BY p.starts_on
            """, [structureID, first.description, last.description]
        ).map { row in
            Period(
                id: try row.decode("id"), code: try row.decode("code"),
                startsOn: CalendarDate(iso: try row.decode(String.self, "starts_on")) ?? first,
                endsOn: CalendarDate(iso: try row.decode(String.self, "ends_on")) ?? last,
                closed: Set(try row.decode([String].self, "closed_dates").compactMap { CalendarDate(iso: $0) }))
        }
    }

    /// A service of the structure as one child has it in a month.
    struct ChildService: Equatable {
        var code: String
        var label: String
        var weekdays: [Int]
        /// The periods (ids) the child has rights for.
        var rightPeriodIDs: Set<Int64>
        var reserved: Set<CalendarDate>
    }

    struct ChildServicesParams {
        var childID: Int64
        /// The child's dossier, by which its rights are keyed.
        var dossierID: Int64
        var structureID: Int64
        var first: CalendarDate
        var last: CalendarDate
    }

    /// Every service of the structure, by code, with the child's rights and reservations in the range.
    func childServices(_ params: ChildServicesParams) throws -> [ChildService] {
        try connection.query(
            """
            SELECT s.code, s.label, s.weekdays::int[] AS weekdays,
                   ARRAY(SELECT r.period_id FROM child_period_rights r
                         WHERE r.dossier_id = $5 AND r.child_id = $1 AND s.id = ANY (r.service_ids)
                         ORDER BY r.period_id) AS rights,
                   ARRAY(SELECT x.day::text FROM reservations x WHERE x.child_id = $1 AND x.service_id = s.id
                         AND x.day BETWEEN $3::date AND $4::date ORDER BY x.day) AS reserved
            FROM services s WHERE s.structure_id = $2 ORDER BY s.code
            """, [params.childID, params.structureID, params.first.description, params.last.description, params.dossierID]
        ).map { row in
            ChildService(
                code: try row.decode("code"), label: try row.decode("label"), weekdays: try row.decode("weekdays"),
                rightPeriodIDs: Set(try row.decode([Int64].self, "rights")),
                reserved: Set(try row.decode([String].self, "reserved").compactMap { CalendarDate(iso: $0) }))
        }
    }
}
