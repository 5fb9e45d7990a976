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
                let outside = try connection.query(
                    """
                    SELECT day::text AS day FROM unnest($1::date[]) AS day
                    WHERE NOT EXISTS (SELECT 1 FROM periods p WHERE p.structure_id = $2 AND day BETWEEN p.starts_on AND p.ends_on)
                    ORDER BY day
                    """, [days, reference.structureID]
                ).map { try $0.decode(String.self, "day") }
                if !outside.isEmpty {
                    throw BackOfficeError(
                        .refused, "reservation refused: \(outside.joined(separator: ", ")) is in no period of \(reference.structure)")
                }
                let added = try connection.query(
                    """
                    INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
                    SELECT $1, $2, p.id, day, current_setting('eticket.actor')
                    FROM unnest($3::date[]) AS day
                    JOIN periods p ON p.structure_id = $4 AND day BETWEEN p.starts_on AND p.ends_on
                    ORDER BY day
                    ON CONFLICT (child_id, service_id, day) DO NOTHING
                    RETURNING day::text AS day
                    """, [reference.id, serviceID, days, reference.structureID]
                ).map { try $0.decode(String.self, "day") }.sorted()
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
                let removed = try connection.query(
                    """
                    DELETE FROM reservations WHERE child_id = $1 AND service_id = $2 AND day = ANY($3::date[])
                    RETURNING day::text AS day
                    """, [reference.id, serviceID, days]
                ).map { try $0.decode(String.self, "day") }.sorted()
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
        let row = try database("cannot find service \(code)") {
            try connection.query("SELECT id, label FROM services WHERE structure_id = $1 AND code = $2", [child.structureID, code])
                .first
        }
        guard let row else { throw BackOfficeError(.notFound, "\(child.structure) has no service \(code)") }
        return (try row.decode("id"), try row.decode("label"))
    }
}
