import Foundation
import Postgres

/// The SQL of structure administrators: membership of `eticket_admin` and the `structure_admins`
/// mapping its row-level security reads. Every method runs on the caller's connection, inside the
/// caller's transaction.
struct AdminStore {
    let connection: Connection

    /// Makes an existing role a member of `eticket_admin`.
    /// - Returns: false when no such role exists (nothing is granted).
    func grantAdminRole(to role: String) throws -> Bool {
        // The server quotes the name (format's %I), so no spelling of it can end the identifier
        // early, and only a role that exists is ever named.
        guard
            let grant = try connection.query(
                "SELECT format('GRANT eticket_admin TO %I', rolname) AS sql FROM pg_roles WHERE rolname = $1", [role]
            ).first
        else { return false }
        try connection.execute(script: try grant.decode(String.self, "sql"))
        return true
    }

    /// Takes `eticket_admin` back from the role, if it exists.
    func revokeAdminRole(from role: String) throws {
        if let revoke = try connection.query(
            "SELECT format('REVOKE eticket_admin FROM %I', rolname) AS sql FROM pg_roles WHERE rolname = $1", [role]
        ).first {
            try connection.execute(script: try revoke.decode(String.self, "sql"))
        }
    }

    func map(role: String, structureID: Int64) throws {
        try connection.query(
            "INSERT INTO structure_admins (role_name, structure_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [role, structureID])
    }

    /// - Returns: whether the role was mapped to the structure.
    func unmap(role: String, structureID: Int64) throws -> Bool {
        try connection.query("DELETE FROM structure_admins WHERE role_name = $1 AND structure_id = $2", [role, structureID])
            .rowsAffected > 0
    }

    /// Whether the role administers any structure.
    func administersAny(role: String) throws -> Bool {
        try !connection.query("SELECT 1 FROM structure_admins WHERE role_name = $1", [role]).isEmpty
    }

    /// Every mapping, by role then structure code.
    func grants() throws -> [Administration.AdminGrant] {
        try connection.query(
            """
            SELECT a.role_name::text AS role, s.code, a.granted_at FROM structure_admins a
            JOIN structures s ON s.id = a.structure_id ORDER BY a.role_name, s.code
            """
        ).map {
            Administration.AdminGrant(
                role: try $0.decode("role"), structure: try $0.decode("code"), grantedAt: try $0.decode("granted_at"))
        }
    }
}
