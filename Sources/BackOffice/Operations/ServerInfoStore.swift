import Foundation
import Postgres

/// The SQL of `eticket doctor`'s probes: roles and privileges in the catalog, functions' search
/// paths, the clocks and the queue's health; and the statements that repair what a probe finds
/// wrong, which doctor prints for the operator to run. Every method runs on the caller's connection.
struct ServerInfoStore {
    let connection: Connection

    /// A privilege a role must hold on a table of the schema, or on each of some of its columns.
    struct Privilege: Equatable {
        var role: String
        /// `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `TRUNCATE`.
        var privilege: String
        var table: String
        /// Comma-separated column names; `nil` for the table.
        var columns: String?
    }

    /// Whether the role holds the privilege: on the table, or on every column named. Each column is
    /// asked on its own: a grant on one column of a table must not hide a missing grant on another.
    /// Without named columns, a grant on the table or on some of its columns will do (except for
    /// DELETE, which only a table has).
    func holds(_ privilege: Privilege) throws -> Bool {
        let table = "public.\(privilege.table)"
        guard let columns = privilege.columns else {
            let function = privilege.privilege == "DELETE" ? "has_table_privilege" : "has_any_column_privilege"
            return try connection.query(
                "SELECT \(function)($1, $2, $3) AS held", [privilege.role, table, privilege.privilege]
            ).first?.decode(Bool.self, "held") == true
        }
        let names = columns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return try connection.query(
            "SELECT bool_and(has_column_privilege($1, $2, c, $3)) AS held FROM unnest($4::text[]) AS c",
            [privilege.role, table, privilege.privilege, names]
        ).first?.decode(Bool.self, "held") == true
    }

    /// Whether the role holds the privilege on the whole table.
    func holdsOnTable(_ privilege: Privilege) throws -> Bool {
        try connection.query(
            "SELECT has_table_privilege($1, $2, $3) AS held", [privilege.role, "public.\(privilege.table)", privilege.privilege]
        ).first?.decode(Bool.self, "held") == true
    }

    /// Those of `roles` that exist.
    func existingRoles(among roles: [String]) throws -> Set<String> {
        Set(
            try connection.query("SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)", [roles]).map {
                try $0.decode("rolname")
            })
    }

    /// Whether `role` has the privileges of `group` (is a member, directly or not).
    func isMember(_ role: String, of group: String) throws -> Bool {
        try connection.query("SELECT pg_has_role($1, $2, 'USAGE') AS member", [role, group]).first?.decode(Bool.self, "member")
            == true
    }

    /// The row-level security helpers (`administers…`) that `PUBLIC` may execute, by signature.
    func policyHelpersOpenToPublic() throws -> [String] {
        try connection.query(
            """
            SELECT p.oid::regprocedure::text AS name FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.proname IN ('administers', 'administers_dossier')
              AND has_function_privilege('public', p.oid, 'EXECUTE')
            """
        ).map { try $0.decode(String.self, "name") }
    }

    /// The schema's own functions (not an extension's) that do not pin their search_path, by signature.
    func functionsWithoutPinnedSearchPath() throws -> [String] {
        try connection.query(
            """
            SELECT p.oid::regprocedure::text AS name FROM pg_proc p
            WHERE p.pronamespace = 'public'::regnamespace AND p.prokind IN ('f', 'p')
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
                AND NOT coalesce('search_path=pg_catalog, public, pg_temp' = ANY(p.proconfig), false)
            ORDER BY 1
            """
        ).map { try $0.decode(String.self, "name") }
    }

    /// The server's clock now, and the decision clock's pinned instant when there is one.
    func clocks() throws -> (server: Date, pinned: Date?)? {
        guard let row = try connection.query("SELECT clock_timestamp() AS server, \(DecisionClock.pinned) AS pinned").first
        else { return nil }
        return (try row.decode("server"), try row.decodeIfPresent("pinned"))
    }

    struct QueueHealth: Equatable {
        /// Rows parked after their attempts ran out.
        var parked: Int
        /// Rows not parked that failed at least once.
        var retrying: Int
        var queued: Int
    }

    func queueHealth() throws -> QueueHealth {
        let row = try connection.query(
            """
            SELECT count(*) FILTER (WHERE failed_at IS NOT NULL) AS parked,
                   count(*) FILTER (WHERE failed_at IS NULL AND attempts > 0) AS retrying,
                   count(*) AS queued
            FROM dossier_queue
            """
        ).first
        return QueueHealth(
            parked: try row?.decode("parked") ?? 0, retrying: try row?.decode("retrying") ?? 0,
            queued: try row?.decode("queued") ?? 0)
    }

    // MARK: - Repairs, printed for the operator

    static func createRoleStatement(_ role: String) -> String {
        "CREATE ROLE \(role) NOLOGIN"
    }

    static func grantStatement(_ privilege: Privilege) -> String {
        "GRANT \(privilege.privilege)\(privilege.columns.map { " (\($0))" } ?? "") ON \(privilege.table) TO \(privilege.role)"
    }

    static func revokeStatement(_ privilege: Privilege) -> String {
        "REVOKE \(privilege.privilege) ON \(privilege.table) FROM \(privilege.role)"
    }

    static func grantMembershipStatement(_ group: String, to role: String) -> String {
        "GRANT \(group) TO \(role)"
    }

    static func revokeExecuteFromPublicStatement(_ function: String) -> String {
        "REVOKE EXECUTE ON FUNCTION \(function) FROM PUBLIC"
    }
}
