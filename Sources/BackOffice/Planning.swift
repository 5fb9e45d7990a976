import Dossiers
import Foundation
import Postgres

/// A child's month as the family portal shows it: per service, what each day allows.
public struct ChildPlanning: Sendable, Equatable, Codable {
    /// What one service day is for the child: the mark the planning-open email draws too.
    public typealias Day = PlanningMark

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

    /// A service's month as the calendar `planning show` and the planning-open email draw.
    public func grid(_ service: Service) -> PlanningGrid {
        PlanningGrid(title: service.label, firstDay: CalendarMonth(iso: month)?.firstDay ?? CalendarDate(daysSinceEpoch: 0), marks: service.days)
    }

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

        let last = first.adding(days: length - 1)
        return try database("cannot read the planning of child \(child)") {
            // The facts; each day's mark is then ``PlanningMark/classify``'s, as in the email.
            let periods = try connection.query(
                """
                SELECT p.id, p.code, p.starts_on::text AS starts_on, p.ends_on::text AS ends_on,
                       p.closed_dates::text[] AS closed_dates
                FROM periods p WHERE p.structure_id = $1 AND p.starts_on <= $3::date AND p.ends_on >= $2::date
                ORDER BY p.starts_on
                """, [reference.structureID, first.description, last.description]
            ).map { row in
                (id: try row.decode(Int64.self, "id"), code: try row.decode(String.self, "code"),
                 startsOn: CalendarDate(iso: try row.decode(String.self, "starts_on")) ?? first,
                 endsOn: CalendarDate(iso: try row.decode(String.self, "ends_on")) ?? last,
                 closed: Set(try row.decode([String].self, "closed_dates").compactMap { CalendarDate(iso: $0) }))
            }
            let services = try connection.query(
                """
                SELECT s.code, s.label, s.weekdays::int[] AS weekdays,
                       ARRAY(SELECT r.period_id FROM reservation_rights r WHERE r.child_id = $1 AND r.service_id = s.id
                             ORDER BY r.period_id) AS rights,
                       ARRAY(SELECT x.day::text FROM reservations x WHERE x.child_id = $1 AND x.service_id = s.id
                             AND x.day BETWEEN $3::date AND $4::date ORDER BY x.day) AS reserved
                FROM services s WHERE s.structure_id = $2 ORDER BY s.code
                """, [reference.id, reference.structureID, first.description, last.description])
            return ChildPlanning(
                childID: reference.id, child: reference.firstName, dossier: reference.dossier,
                structure: reference.structure, month: month, firstWeekday: first.isoWeekday,
                services: try services.map { row in
                    let rights = Set(try row.decode([Int64].self, "rights"))
                    let grid = PlanningGrid(
                        title: try row.decode("label"), from: first, through: last, runsOn: try row.decode("weekdays"),
                        reserved: Set(try row.decode([String].self, "reserved").compactMap { CalendarDate(iso: $0) })
                    ) { day in
                        periods.first { $0.startsOn <= day && day <= $0.endsOn }.map {
                            PlanningMark.PeriodDay(isClosed: $0.closed.contains(day), hasRights: rights.contains($0.id))
                        }
                    }
                    return ChildPlanning.Service(
                        code: try row.decode("code"), label: grid.title, weekdays: try row.decode("weekdays"),
                        rightsPeriods: periods.filter { rights.contains($0.id) }.map(\.code), days: grid.marks)
                })
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
