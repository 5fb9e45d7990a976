import Dossiers
import Foundation
import Postgres

/// What applying a structures file changed, per structure.
public struct StructureApplyReport: Sendable, Equatable {
    public enum Change: String, Sendable { case created, updated, unchanged }
    public var structures: [(code: String, change: Change)] = []

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.structures.elementsEqual(rhs.structures) { $0.code == $1.code && $0.change == $1.change }
    }
}

/// Applies the structures file (`contracts/structures.schema.json`) idempotently: what the file
/// names is created or brought up to date; what it does not name is left as it is.
public struct StructureCatalog {
    let connection: Connection

    public init(connection: Connection) {
        self.connection = connection
    }

    /// Applies all `structures` in one transaction: a file applies whole or not at all.
    func apply(_ structures: [Structure]) throws -> StructureApplyReport {
        try database("cannot apply the structures") {
            try connection.transaction { _ in
                var report = StructureApplyReport()
                for (index, structure) in structures.enumerated() {
                    report.structures.append((structure.code, try apply(structure, at: "$.structures[\(index)]")))
                }
                return report
            }
        }
    }

    private func apply(_ structure: Structure, at path: String) throws -> StructureApplyReport.Change {
        let store = StructureStore(connection: connection)
        let row = try statement(at: path) { try store.upsert(structure) }
        var changed = false
        for (index, kind) in structure.documentKinds.enumerated() {
            changed =
                try statement(at: "\(path).documents[\(index)]") { try store.upsert(kind, structure: structure.code) } || changed
        }
        for (index, service) in structure.services.enumerated() {
            changed =
                try statement(at: "\(path).services[\(index)]") { try store.upsert(service, structure: structure.code) }
                || changed
        }
        for (index, period) in structure.periods.enumerated() {
            changed =
                try statement(at: "\(path).periods[\(index)]") { try store.upsert(period, structure: structure.code) } || changed
        }
        switch row {
        case .created: return .created
        case .updated: return .updated
        case .unchanged: return changed ? .updated : .unchanged
        }
    }

    /// The file's fields behind the constraints the contract does not repeat.
    static let constraintFields = [
        "structures_timezone_check": ".timezone", "structures_registration_code_key": ".registration_code",
        "structures_sender_email_check": ".sender.email", "structures_reply_to_check": ".sender.reply_to",
        "structures_portal_url_check": ".portal_url", "document_kinds_kind_check": ".kind",
        "structures_display_name_check": ".branding.display_name", "structures_logo_url_check": ".branding.logo_url",
        "structures_accent_color_check": ".branding.accent_color",
        "structures_contact_phone_check": ".branding.contact.phone",
        "structures_contact_address_check": ".branding.contact.address",
        "structures_contact_hours_check": ".branding.contact.opening_hours",
    ]

    /// Runs one statement for the part of the file at `path`. A check or unique constraint the
    /// schema cannot express (a time zone PostgreSQL does not know, another structure's
    /// registration code, the reserved document kind `free`) is the file's fault: bad input, with
    /// the path.
    private func statement<T>(at path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError where error.sqlState == "23514" || error.sqlState == "23505" {
            let field = error.constraint.flatMap { Self.constraintFields[$0] } ?? ""
            throw BackOfficeError(.badInput, "\(path)\(field): \(error.message)", underlying: error)
        }
    }
}
