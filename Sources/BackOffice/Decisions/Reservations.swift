import Dossiers
import Foundation
import Postgres

/// What `reservations add` or `remove` did.
public struct ReservationChange: Sendable, Equatable, Codable {
    public var child: String
    public var dossier: String
    public var service: String
    /// The service's label, as families read it.
    public var serviceLabel: String
    /// Days reserved (add) or freed (remove) by this call, in date order.
    public var changed: [String]
    /// Days asked for that were already reserved (add only).
    public var unchanged: [String]
}

extension Administration {
    /// Reserves `service` for the child on each day, all or none, through the database's
    /// reservation gate. The period of each day is the structure's period that includes it.
    ///
    /// - Parameters:
    ///   - child: `children.id` or `EXTERNALID/N`.
    ///   - dates: `YYYY-MM-DD` days.
    /// - Throws: ``BackOfficeError`` `.refused` with the gate's reason (no rights, closed date, the
    ///   service does not run that day, a dossier not validated, a day in no period); `.notFound`
    ///   for an unknown child or service; `.badInput` for a malformed date.
    public func addReservations(child: String, service: String, dates: [String]) throws -> ReservationChange {
        let days = try calendarDays(dates)
        let reference = try childReference(child)
        let (serviceID, serviceLabel) = try declaredService(service, of: reference)
        return try database("cannot reserve \(service) for child \(child)") {
            try connection.transaction { connection in
                let store = ReservationStore(connection: connection)
                let outside = try store.daysOutsidePeriods(days, structureID: reference.structureID)
                if !outside.isEmpty {
                    throw BackOfficeError(
                        .refused,
                        "reservation refused: \(outside.joined(separator: ", ")) is in no period of \(reference.structure)")
                }
                let added = try store.add(
                    .init(childID: reference.id, serviceID: serviceID, structureID: reference.structureID, days: days))
                return ReservationChange(
                    child: reference.firstName, dossier: reference.dossier, service: service, serviceLabel: serviceLabel,
                    changed: added,
                    unchanged: days.filter { !added.contains($0) })
            }
        }
    }

    /// Cancels the child's reservations of `service` on each day, all or none.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` naming the days that are not reserved (nothing is
    ///   removed then), or an unknown child or service.
    public func removeReservations(child: String, service: String, dates: [String]) throws -> ReservationChange {
        let days = try calendarDays(dates)
        let reference = try childReference(child)
        let (serviceID, serviceLabel) = try declaredService(service, of: reference)
        return try database("cannot remove the reservations of \(service) for child \(child)") {
            try connection.transaction { connection in
                let removed = try ReservationStore(connection: connection).remove(
                    .init(childID: reference.id, serviceID: serviceID, structureID: reference.structureID, days: days))
                let missing = days.filter { !removed.contains($0) }
                if !missing.isEmpty {
                    // The child and the service exist: the days' state refuses it (exit 1), not a name.
                    throw BackOfficeError(
                        .refused,
                        "no reservation of \(service) for child \(child) on \(missing.joined(separator: ", ")); nothing removed")
                }
                return ReservationChange(
                    child: reference.firstName, dossier: reference.dossier, service: service, serviceLabel: serviceLabel,
                    changed: removed, unchanged: [])
            }
        }
    }

    /// Validated, sorted, distinct `YYYY-MM-DD` days.
    private func calendarDays(_ dates: [String]) throws -> [String] {
        guard !dates.isEmpty else { throw BackOfficeError(.badInput, "no date given") }
        let days = try dates.map { text in
            guard text.count == 10, let day = CalendarDate(iso: text) else {
                throw BackOfficeError(.badInput, "not a date (YYYY-MM-DD): \(text)")
            }
            return day
        }
        return Set(days).sorted().map(\.description)
    }

    /// The id of the child's structure's service `code`, and its label.
    private func declaredService(_ code: String, of child: ChildReference) throws -> (id: Int64, label: String) {
        let service = try database("cannot find service \(code)") {
            try ReservationStore(connection: connection).service(code: code, structureID: child.structureID)
        }
        guard let service else { throw BackOfficeError(.notFound, "\(child.structure) has no service \(code)") }
        return (service.id, service.label)
    }
}
