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
    var firstWeekday: Int
    public var services: [Service]

    /// A service's month as the calendar `planning show` and the planning-open email draw.
    public func grid(_ service: Service) -> PlanningGrid {
        PlanningGrid(
            title: service.label, firstDay: CalendarMonth(iso: month)?.firstDay ?? CalendarDate(daysSinceEpoch: 0),
            marks: service.days)
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
struct ChildReference: Equatable {
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
            let store = PlanningStore(connection: connection)
            let periods = try store.periods(structureID: reference.structureID, overlapping: first, last)
            let services = try store.childServices(
                .init(
                    childID: reference.id, dossierID: reference.dossierID, structureID: reference.structureID, first: first,
                    last: last))
            return ChildPlanning(
                childID: reference.id, child: reference.firstName, dossier: reference.dossier,
                structure: reference.structure, month: month, firstWeekday: first.isoWeekday,
                services: services.map { service in
                    let grid = PlanningGrid(
                        title: service.label, from: first, through: last, runsOn: service.weekdays, reserved: service.reserved
                    ) { day in
                        periods.first { $0.startsOn <= day && day <= $0.endsOn }.map {
                            PlanningMark.PeriodDay(
                                isClosed: $0.closed.contains(day), hasRights: service.rightPeriodIDs.contains($0.id))
                        }
                    }
                    return ChildPlanning.Service(
                        code: service.code, label: grid.title, weekdays: service.weekdays,
                        rightsPeriods: periods.filter { service.rightPeriodIDs.contains($0.id) }.map(\.code), days: grid.marks)
                })
        }
    }

    /// Resolves `children.id` or `EXTERNALID/N`.
    func childReference(_ text: String) throws -> ChildReference {
        let key: PlanningStore.ChildKey
        if let slash = text.lastIndex(of: "/") {
            guard let number = Int(text[text.index(after: slash)...]), number >= 1 else {
                throw BackOfficeError(.badInput, "not a child: \(text) (a child id, or EXTERNALID/N with N from 1)")
            }
            key = .position(dossier: String(text[..<slash]), index: number - 1)
        } else {
            guard Int64(text) != nil else {
                throw BackOfficeError(.badInput, "not a child: \(text) (a child id, or EXTERNALID/N with N from 1)")
            }
            key = .id(text)
        }
        let found = try database("cannot find child \(text)") { try PlanningStore(connection: connection).child(key) }
        guard let found else { throw BackOfficeError(.notFound, "no child \(text)") }
        return found
    }
}
