import Foundation
import Postgres

extension Administration {
    /// A database role and the structures it administers.
    public struct AdminGrant: Sendable, Equatable, Codable {
        public var role: String
        public var structure: String
        public var grantedAt: Date
    }

    /// Lets `role` administer `structure`: it becomes a member of `eticket_admin`, whose row-level
    /// security policies show it only the structures it is mapped to.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` when the role or the structure does not exist.
    public func grantAdmin(role: String, structure code: String) throws {
        try database("cannot grant \(role) on \(code)") {
            try connection.transaction { connection in
                let structureID = try structureID(code, on: connection)
                // The server quotes the name (format's %I), so no spelling of it can end the
                // identifier early, and only a role that exists is ever named.
                guard let grant = try connection.query(
                    "SELECT format('GRANT eticket_admin TO %I', rolname) AS sql FROM pg_roles WHERE rolname = $1", [role]
                ).first else {
                    throw BackOfficeError(
                        .notFound, "no database role \(try Connection.quoteIdentifier(role)): create it first (CREATE ROLE … LOGIN)")
                }
                try connection.execute(script: try grant.decode(String.self, "sql"))
                try connection.query(
                    "INSERT INTO structure_admins (role_name, structure_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    [role, structureID])
            }
        }
    }

    /// Withdraws `role` from `structure`; with no structure left, from `eticket_admin` too.
    /// - Returns: whether the role administered the structure.
    @discardableResult
    public func revokeAdmin(role: String, structure code: String) throws -> Bool {
        try database("cannot revoke \(role) on \(code)") {
            try connection.transaction { connection in
                let structureID = try structureID(code, on: connection)
                let removed = try connection.query(
                    "DELETE FROM structure_admins WHERE role_name = $1 AND structure_id = $2", [role, structureID]
                ).rowsAffected
                let remaining = try connection.query("SELECT 1 FROM structure_admins WHERE role_name = $1", [role])
                if remaining.isEmpty, let revoke = try connection.query(
                    "SELECT format('REVOKE eticket_admin FROM %I', rolname) AS sql FROM pg_roles WHERE rolname = $1", [role]
                ).first {
                    try connection.execute(script: try revoke.decode(String.self, "sql"))
                }
                return removed > 0
            }
        }
    }

    public func admins() throws -> [AdminGrant] {
        try database("cannot list the administrators") {
            try connection.query(
                """
                SELECT a.role_name::text AS role, s.code, a.granted_at FROM structure_admins a
                JOIN structures s ON s.id = a.structure_id ORDER BY a.role_name, s.code
                """
            ).map { AdminGrant(role: try $0.decode("role"), structure: try $0.decode("code"), grantedAt: try $0.decode("granted_at")) }
        }
    }

    func structureID(_ code: String, on connection: Connection) throws -> Int64 {
        guard let row = try connection.query("SELECT id FROM structures WHERE code = $1", [code]).first else {
            throw BackOfficeError(.notFound, "no structure \(code)")
        }
        return try row.decode("id")
    }
}
