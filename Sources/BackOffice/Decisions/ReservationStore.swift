import Postgres

/// The SQL of reservations, which the database's reservation gate (migration triggers) judges.
/// Every method runs on the caller's connection, inside the caller's transaction.
struct ReservationStore {
    let connection: Connection

    /// A service of a structure, by its code.
    struct Service: Equatable {
        var id: Int64
        var label: String
    }

    func service(code: String, structureID: Int64) throws -> Service? {
        try connection.query("SELECT id, label FROM services WHERE structure_id = $1 AND code = $2", [structureID, code])
            .first.map { Service(id: try $0.decode("id"), label: try $0.decode("label")) }
    }

    /// The days (`YYYY-MM-DD`) that fall in no period of the structure, in date order.
    func daysOutsidePeriods(_ days: [String], structureID: Int64) throws -> [String] {
        try connection.query(
            """
            SELECT day::text AS day FROM unnest($1::date[]) AS day
            WHERE NOT EXISTS (SELECT 1 FROM periods p WHERE p.structure_id = $2 AND day BETWEEN p.starts_on AND p.ends_on)
            ORDER BY day
            """, [days, structureID]
        ).map { try $0.decode(String.self, "day") }
    }

    /// Which child, service and days; the structure's periods give each day's period.
    struct ReservationParams {
        var childID: Int64
        var serviceID: Int64
        var structureID: Int64
        /// `YYYY-MM-DD`.
        var days: [String]
    }

    /// Reserves the days, by the session's actor; days already reserved are left as they are.
    /// - Returns: the days reserved now, sorted.
    func add(_ params: ReservationParams) throws -> [String] {
        try connection.query(
            """
            INSERT INTO reservations (child_id, service_id, period_id, day, created_by)
            SELECT $1, $2, p.id, day, current_setting('eticket.actor')
            FROM unnest($3::date[]) AS day
            JOIN periods p ON p.structure_id = $4 AND day BETWEEN p.starts_on AND p.ends_on
            ORDER BY day
            ON CONFLICT (child_id, service_id, day) DO NOTHING
            RETURNING day::text AS day
            """, [params.childID, params.serviceID, params.days, params.structureID]
        ).map { try $0.decode(String.self, "day") }.sorted()
    }

    /// Cancels the reservations of these days.
    /// - Returns: the days that were reserved and are no longer, sorted.
    func remove(_ params: ReservationParams) throws -> [String] {
        try connection.query(
            """
            DELETE FROM reservations WHERE child_id = $1 AND service_id = $2 AND day = ANY($3::date[])
            RETURNING day::text AS day
            """, [params.childID, params.serviceID, params.days]
        ).map { try $0.decode(String.self, "day") }.sorted()
    }
}
