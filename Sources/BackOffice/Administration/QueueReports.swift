import Dossiers
import Foundation
import Postgres

/// What `queue list --state` may ask for: a dossier state, or where its queue row stands.
public enum QueueFilter: Hashable, Sendable {
    /// Dossiers in this state.
    case state(DossierState)
    /// Dossiers with a queue row parked after its attempts ran out.
    case failed
    /// Dossiers with a queue row waiting for a worker (due or scheduled, not parked).
    case queued

    /// `submitted`, `planning_open`, …, `failed` or `queued`; `nil` for anything else.
    public init?(_ text: String) {
        switch text {
        case "failed": self = .failed
        case "queued": self = .queued
        default:
            guard let state = DossierState(rawValue: text) else { return nil }
            self = .state(state)
        }
    }

    /// Every value `init(_:)` accepts, for help texts and error messages.
    public static var names: [String] { DossierState.allCases.map(\.rawValue) + ["failed", "queued"] }
}

/// One dossier on the administrator's queue view.
public struct QueueEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var externalID: String
    public var structure: String
    public var state: DossierState
    public var version: Int
    /// The account holder's last name, as this dossier gives it.
    public var family: String
    /// The children's first names, in the dossier's order.
    public var children: [String]
    public var submittedAt: Date
    /// The structure's IANA time zone, in which an administrator reads the times.
    public var timeZone: String
    /// Seconds since submission (never negative).
    public var ageSeconds: Int
    /// The queue's work for this dossier (`process`, `open_rights`), empty when nothing is queued.
    var jobs: [String]
    /// Attempts of its queue rows (the highest), 0 when nothing is queued.
    public var attempts: Int
    public var lastError: String?
    /// Whether a queue row is parked for an administrator (`eticket queue retry`).
    public var failed: Bool
    /// When the next queue row falls due.
    public var runAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, structure, state, version, family, children, attempts, failed, jobs
        case externalID = "external_id"
        case submittedAt = "submitted_at"
        case timeZone = "time_zone"
        case ageSeconds = "age_seconds"
        case lastError = "last_error"
        case runAt = "run_at"
    }
}

/// Counts for one structure, the numbers `queue stats` and the Prometheus metrics show.
public struct StructureQueueStats: Sendable, Equatable, Codable {
    public var structure: String
    /// Dossiers per state; every state is present, 0 included.
    public var dossiers: [String: Int]
    /// Queue rows waiting for a worker and due now.
    public var waiting: Int
    /// Seconds the oldest due, unparked queue row has waited; 0 when none waits.
    public var oldestWaitingSeconds: Int
    /// Decisions of the last hour per outcome; every outcome is present.
    public var decisionsLastHour: [String: Int]
    /// Queue rows parked after their attempts ran out.
    public var failed: Int
    /// Emails not exported yet.
    public var outboxPending: Int
    /// Emails per delivery state (`pending`, `sent`, `deferred`, `failed`, `skipped`); every state is present.
    public var delivery: [String: Int] = Dictionary(uniqueKeysWithValues: EmailDelivery.allCases.map { ($0.rawValue, 0) })
    /// Seconds the oldest email not sent yet (pending or deferred) has waited since it was written; 0 when none.
    public var oldestUnsentSeconds = 0

    enum CodingKeys: String, CodingKey {
        case structure, dossiers, waiting, failed, delivery
        case oldestUnsentSeconds = "oldest_unsent_seconds"
        case oldestWaitingSeconds = "oldest_waiting_seconds"
        case decisionsLastHour = "decisions_last_hour"
        case outboxPending = "outbox_pending"
    }
}

/// An outbox message's way to the mail relay, as `email_outbox.delivery` holds it (migration 018).
public enum EmailDelivery: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Not offered yet.
    case pending
    /// The relay answered 250.
    case sent
    /// A 4xx, or the connection lost or silent: offered again at its next attempt.
    case deferred
    /// A 5xx, or the attempts ran out.
    case failed
    /// Exported to files before mail delivery existed: never sent by eticket.
    case skipped

    /// The database's label, as reports print it.
    public var description: String { rawValue }
}

/// How many parked queue rows a retry put back.
public struct RetryReport: Sendable, Equatable {
    /// The external ids of the dossiers re-queued, in queue order.
    public var dossiers: [String]
    public var count: Int { dossiers.count }
}

extension Administration {
    /// The queue as an administrator reads it: one line per dossier, oldest submission first.
    ///
    /// - Parameters:
    ///   - filters: dossier states, `failed` or `queued`; a dossier matching any is listed. Empty
    ///     means what waits for someone: queued or parked work, and dossiers awaiting review.
    ///   - olderThan: only dossiers submitted at least this many seconds ago.
    ///   - structure: only this structure's dossiers.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func queueEntries(
        filters: Set<QueueFilter> = [], olderThan: TimeInterval? = nil, structure: String? = nil
    ) throws -> [QueueEntry] {
        try requireStructure(structure)
        var states = filters.compactMap { filter -> DossierState? in
            if case .state(let state) = filter { return state }
            return nil
        }
        var failed = filters.contains(.failed)
        var queued = filters.contains(.queued)
        if filters.isEmpty {
            states = [.awaitingReview]
            failed = true
            queued = true
        }
        return try database("cannot list the queue") {
            try QueueReportStore(connection: connection).entries(
                .init(structure: structure, olderThan: olderThan, states: states, failed: failed, queued: queued))
        }
    }

    /// Per structure: dossiers by state, the queue's backlog and failures, the last hour's
    /// decisions and the emails not exported yet. Structures are in code order.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func queueStats(structure: String? = nil) throws -> [StructureQueueStats] {
        try requireStructure(structure)
        return try database("cannot count the queue") {
            let store = QueueReportStore(connection: connection)
            var stats: [String: StructureQueueStats] = [:]
            var order: [String] = []
            for backlog in try store.backlogs(structure: structure) {
                order.append(backlog.structure)
                stats[backlog.structure] = StructureQueueStats(
                    structure: backlog.structure,
                    dossiers: Dictionary(uniqueKeysWithValues: DossierState.allCases.map { ($0.rawValue, 0) }),
                    waiting: backlog.waiting, oldestWaitingSeconds: backlog.oldestWaitingSeconds,
                    decisionsLastHour: Dictionary(uniqueKeysWithValues: Outcome.allCases.map { ($0.rawValue, 0) }),
                    failed: backlog.failed, outboxPending: backlog.outboxPending)
            }
            for count in try store.dossiersByState(structure: structure) {
                stats[count.structure]?.dossiers[count.state.rawValue] = count.count
            }
            for count in try store.decisionsLastHour(structure: structure) {
                stats[count.structure]?.decisionsLastHour[count.outcome.rawValue] = count.count
            }
            for count in try store.emailsByDelivery(structure: structure) {
                stats[count.structure]?.delivery[count.delivery.rawValue] = count.count
                let before = stats[count.structure]?.oldestUnsentSeconds ?? 0
                stats[count.structure]?.oldestUnsentSeconds = max(before, count.oldestUnsentSeconds)
            }
            return order.compactMap { stats[$0] }
        }
    }

    /// Puts a dossier's parked queue rows back: attempts to 0, due now, the last error kept.
    ///
    /// - Parameter dossier: the external id, or the internal numeric id.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown dossier, `.refused` when the dossier
    ///   has no parked queue row.
    public func retryFailed(dossier: String) throws -> RetryReport {
        let id = try dossierID(dossier)
        let report = try retry(dossierID: id, structure: nil)
        guard report.count > 0 else {
            let queued = try database("cannot read the queue") {
                try QueueReportStore(connection: connection).queuedCount(dossierID: id)
            }
            throw BackOfficeError(
                .refused,
                "dossier \(dossier) has no failed queue item to retry"
                    + (queued > 0 ? " (it is queued and waiting for a worker)" : " (it is not queued)"))
        }
        return report
    }

    /// Puts every parked queue row back (of one structure, when given).
    public func retryAllFailed(structure: String? = nil) throws -> RetryReport {
        try requireStructure(structure)
        return try retry(dossierID: nil, structure: structure)
    }

    private func retry(dossierID: Int64?, structure: String?) throws -> RetryReport {
        try database("cannot retry the failed queue items") {
            try connection.transaction { connection in
                let dossiers = try QueueReportStore(connection: connection).retryParked(
                    dossierID: dossierID, structure: structure)
                return RetryReport(dossiers: dossiers)
            }
        }
    }

    // MARK: - Lookups shared by the administration reports

    /// The internal id of a dossier named by its external id or its internal numeric id.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound`: "no dossier X".
    func dossierID(_ reference: String) throws -> Int64 {
        let found = try database("cannot find the dossier") {
            try QueueReportStore(connection: connection).dossierID(reference)
        }
        guard let found else { throw BackOfficeError(.notFound, "no dossier \(reference)") }
        return found
    }

    /// Fails with "no structure X" unless `code` is nil or names a structure.
    func requireStructure(_ code: String?) throws {
        try BackOffice.requireStructure(code, on: connection)
    }
}

/// Fails with "no structure X" unless `code` is nil or names a structure: a filter on a misspelt
/// structure is an error, never an empty report that reads as "nothing to do".
///
/// - Throws: ``BackOfficeError`` `.notFound`.
func requireStructure(_ code: String?, on connection: Connection) throws {
    guard let code else { return }
    let exists = try database("cannot find the structure") {
        try StructureStore(connection: connection).id(code: code) != nil
    }
    guard exists else { throw BackOfficeError(.notFound, "no structure \(code)") }
}
