import Dossiers
import Foundation
import Postgres

/// A child's month as the family portal shows it: per service, what each day allows.
public struct ChildPlanning: Sendable, Equatable, Codable {
    /// What one service day is for the child, in the order a reader checks them.
    public enum Day: String, Sendable, Equatable, Codable, CaseIterable {
        /// Reserved.
        case reserved
        /// Open to reserve: rights, a day the service runs, inside the period and not closed.
        case open
        /// A closed date of the period (a public holiday) on a day the service would run.
        case closed
        /// The service does not run on this weekday.
        case notRunning = "not_running"
        /// Inside a period, but the child has no rights for this service and period.
        case noRights = "no_rights"
        /// In no period of the structure.
        case outsidePeriod = "outside_period"
    }

    public struct Service: Sendable, Equatable, Codable {
        public var code: String
        public var label: String
        /// ISO day numbers the service runs (1 = Monday).
        public var weekdays: [Int]
        /// The periods (codes) of this month the child has rights for.
        public var rightsPeriods: [String]
        /// One entry per day of the month, day 1 first.
        public var days: [Day]
    }

    public var childID: Int64
    public var child: String
    public var dossier: String
    public var structure: String
    /// `YYYY-MM`.
    public var month: String
    /// ISO weekday of the month's first day (1 = Monday), for laying out a calendar.
    public var firstWeekday: Int
    public var services: [Service]

    /// The cell of `service` on `day` (1-based), `nil` when either does not exist.
    public func day(_ day: Int, of service: String) -> Day? {
        guard let found = services.first(where: { $0.code == service }), found.days.indices.contains(day - 1) else {
            return nil
        }
        return found.days[day - 1]
    }
}

/// A child named the way support staff name one.
struct ChildReference {
    var id: Int64
    var firstName: String
    var dossierID: Int64
    var dossier: String
    var structureID: Int64
    var structure: String
}

extension Administration {
    /// The child's month, per service of the structure, day by day.
    ///
    /// - Parameters:
    ///   - child: `children.id`, or `EXTERNALID/N` (the dossier's external id and the child's
    ///     1-based position in it, as `dossier show` numbers children).
    ///   - month: `YYYY-MM`.
    /// - Throws: ``BackOfficeError`` `.badInput` for a malformed month or child, `.notFound` for an
    ///   unknown child.
    public func planning(child: String, month: String) throws -> ChildPlanning {
        guard let calendarMonth = CalendarMonth(iso: month) else {
            throw BackOfficeError(.badInput, "\(month): not a month; expected YYYY-MM")
        }
        let first = calendarMonth.firstDay
        let length = calendarMonth.lastDay.daysSinceEpoch - first.daysSinceEpoch + 1
        let reference = try childReference(child)

        return try database("cannot read the planning of child \(child)") {
            let rows = try connection.query(
                """
                SELECT s.code, s.label, s.weekdays::int[] AS weekdays, g.day::date::text AS day,
                       CASE
                           WHEN x.id IS NOT NULL THEN 'reserved'
                           WHEN p.id IS NULL THEN 'outside_period'
                           WHEN NOT (extract(isodow FROM g.day)::smallint = ANY (s.weekdays)) THEN 'not_running'
                           WHEN g.day::date = ANY (p.closed_dates) THEN 'closed'
                           WHEN r.id IS NULL THEN 'no_rights'
                           ELSE 'open'
                       END AS cell,
                       p.code AS period, r.id IS NOT NULL AS has_right
                FROM services s
                CROSS JOIN generate_series($2::date, $3::date, interval '1 day') AS g(day)
                LEFT JOIN periods p ON p.structure_id = s.structure_id AND g.day::date BETWEEN p.starts_on AND p.ends_on
                LEFT JOIN reservation_rights r ON r.child_id = $1 AND r.service_id = s.id AND r.period_id = p.id
                LEFT JOIN reservations x ON x.child_id = $1 AND x.service_id = s.id AND x.day = g.day::date
                WHERE s.structure_id = $4
                ORDER BY s.code, g.day
                """, [reference.id, first.description, first.adding(days: length - 1).description, reference.structureID])
            var services: [ChildPlanning.Service] = []
            for row in rows {
                let code: String = try row.decode("code")
                if services.last?.code != code {
                    services.append(
                        .init(
                            code: code, label: try row.decode("label"), weekdays: try row.decode("weekdays"),
                            rightsPeriods: [], days: []))
                }
                let cell: String = try row.decode("cell")
                services[services.count - 1].days.append(ChildPlanning.Day(rawValue: cell) ?? .outsidePeriod)
                if try row.decode(Bool.self, "has_right"), let period: String = try row.decodeIfPresent("period"),
                    !services[services.count - 1].rightsPeriods.contains(period)
                {
                    services[services.count - 1].rightsPeriods.append(period)
                }
            }
            return ChildPlanning(
                childID: reference.id, child: reference.firstName, dossier: reference.dossier,
                structure: reference.structure, month: month, firstWeekday: first.isoWeekday, services: services)
        }
    }

    /// Resolves `children.id` or `EXTERNALID/N`.
    func childReference(_ text: String) throws -> ChildReference {
        let byPosition: (String, Int)?
        if let slash = text.lastIndex(of: "/") {
            guard let number = Int(text[text.index(after: slash)...]), number >= 1 else {
                throw BackOfficeError(.badInput, "not a child: \(text) (a child id, or EXTERNALID/N with N from 1)")
            }
            byPosition = (String(text[..<slash]), number - 1)
        } else {
            guard Int64(text) != nil else {
                throw BackOfficeError(.badInput, "not a child: \(text) (a child id, or EXTERNALID/N with N from 1)")
            }
            byPosition = nil
        }
        let row = try database("cannot find child \(text)") {
            try connection.query(
                """
                SELECT c.id, c.first_name, d.id AS dossier_id, d.external_id, s.id AS structure_id, s.code AS structure
                FROM children c JOIN dossiers d ON d.id = c.dossier_id JOIN structures s ON s.id = d.structure_id
                WHERE CASE WHEN $1::text IS NULL THEN c.id::text = $3
                           ELSE d.external_id = $1 AND c.position = $2 END
                """, [byPosition?.0, byPosition?.1, text]
            ).first
        }
        guard let row else { throw BackOfficeError(.notFound, "no child \(text)") }
        return ChildReference(
            id: try row.decode("id"), firstName: try row.decode("first_name"), dossierID: try row.decode("dossier_id"),
            dossier: try row.decode("external_id"), structureID: try row.decode("structure_id"),
            structure: try row.decode("structure"))
    }
}
