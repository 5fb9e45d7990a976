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
                let admins = AdminStore(connection: connection)
                guard try admins.grantAdminRole(to: role) else {
                    throw BackOfficeError(
                        .notFound,
                        "no database role \(try Connection.quoteIdentifier(role)): create it first (CREATE ROLE … LOGIN)")
                }
                try admins.map(role: role, structureID: structureID)
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
                let admins = AdminStore(connection: connection)
                let removed = try admins.unmap(role: role, structureID: structureID)
                if try !admins.administersAny(role: role) { try admins.revokeAdminRole(from: role) }
                return removed
            }
        }
    }

    public func admins() throws -> [AdminGrant] {
        try database("cannot list the administrators") {
            try AdminStore(connection: connection).grants()
        }
    }

    func structureID(_ code: String, on connection: Connection) throws -> Int64 {
        guard let id = try StructureStore(connection: connection).id(code: code) else {
            throw BackOfficeError(.notFound, "no structure \(code)")
        }
        return id
    }
}
