import Foundation
import Postgres

/// A dossier whose personal data a purge removes (or would remove, in a dry run).
public struct PurgedDossier: Sendable, Equatable, Codable {
    public var dossier: String
    public var structure: String
    public var returnedAt: Date
    /// The structure's IANA time zone, in which an administrator reads `returnedAt`.
    public var timeZone: String
}

extension Administration {
    /// Removes families' personal data from dossiers returned before `before` and kept longer than
    /// their structure's retention period: children, guardians, trusted persons, documents, notes,
    /// the submitted content, the emails, and the account's names and address when no other dossier
    /// uses it. Decisions, events and a `purges` row remain, so the purge itself is on record.
    ///
    /// - Parameter dryRun: list what would be purged and change nothing.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func purge(returnedBefore before: Date, structure: String? = nil, dryRun: Bool) throws -> [PurgedDossier] {
        try requireStructure(structure)
        return try database("cannot purge the returned dossiers") {
            try connection.transaction { connection in
                let store = RetentionStore(connection: connection)
                let candidates = try store.lockPurgeCandidates(.init(returnedBefore: before, structure: structure))
                if !dryRun, !candidates.isEmpty { try store.purge(candidates) }
                return candidates.map(\.dossier)
            }
        }
    }

    /// Sets how long a structure keeps a returned dossier's personal data.
    public func setRetention(structure code: String, days: Int) throws {
        try database("cannot set the retention of \(code)") {
            guard (0...36_500).contains(days) else {
                throw BackOfficeError(.badInput, "retention: days must be 0 to 36500 (a hundred years), not \(days)")
            }
            guard try RetentionStore(connection: connection).setRetention(structure: code, days: days) else {
                throw BackOfficeError(.notFound, "no structure \(code)")
            }
        }
    }
}
