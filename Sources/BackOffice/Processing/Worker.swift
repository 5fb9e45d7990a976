import Dossiers
import Foundation
import Logging
import Mail
import Postgres

/// How a worker runs; from the config file, the environment or flags.
public struct WorkerConfiguration: Sendable {
    /// Queue rows claimed, and decided, per transaction.
    public var batchSize = 100
    /// How long an idle worker sleeps when no NOTIFY wakes it; also how soon it finds retries.
    public var pollInterval: Duration = .seconds(5)
    /// Attempts before a dossier whose processing keeps failing is parked as failed.
    public var maxAttempts = 5
    /// The first retry's delay; each further attempt doubles it.
    public var retryBaseDelay: Duration = .seconds(10)
    /// Who decides: `worker:<host>:<pid>` unless set.
    public var identity = WorkerConfiguration.defaultIdentity
    /// How long a statement, and a commit, may wait for the server before the worker (or batch
    /// run, or exporter) cancels it, leaves that server and reconnects.
    public var waitLimits = WorkerConfiguration.defaultWaitLimits

    /// 30 s for a statement and 30 s for a commit: a batch's statements take milliseconds, and a
    /// commit waits only for a synchronous standby's acknowledgement.
    public static let defaultWaitLimits = WaitLimits(statement: .seconds(30), commit: .seconds(30))

    public init() {}

    static var defaultIdentity: String {
        "worker:\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// What one batch did, for the batch's log line and for callers that count.
public struct BatchSummary: Sendable, Equatable {
    public var claimed = 0
    public var outcomes: [Outcome: Int] = [:]
    /// Dossiers whose reservation rights opened in this batch.
    public var planningOpened = 0
    /// Dossiers whose processing threw and that will be tried again.
    public var retried = 0
    /// Dossiers parked as failed after their last attempt.
    public var failed = 0
    public var milliseconds = 0

    public init() {}

    mutating func add(_ other: BatchSummary) {
        claimed += other.claimed
        outcomes.merge(other.outcomes, uniquingKeysWith: +)
        planningOpened += other.planningOpened
        retried += other.retried
        failed += other.failed
        milliseconds += other.milliseconds
    }
}

/// Writes what the family hears of decisions and openings, in the same transaction, after they
/// were carried out.
///
/// Implemented by the email outbox; a worker without one records decisions only.
protocol FamilyNotifier {
    /// Writes the emails the worker `built` (of its decisions and of the rights it opened first),
    /// and the planning-open emails of the other `openings`, whose particulars the database reads.
    func notify(openings: [DecisionStore.Opening], built: [FamilyEmailStore.BuiltEmail], on connection: Connection) throws
}

/// Claims due queue rows, judges the dossiers, records decisions and opens rights — a batch per
/// transaction, so that a worker that dies loses nothing: its transaction rolls back and another
/// worker claims the rows at once.
public final class Worker {
    let configuration: WorkerConfiguration
    let notifier: (any FamilyNotifier)?
    let logger: Logger

    init(configuration: WorkerConfiguration, notifier: (any FamilyNotifier)?, logger: Logger) {
        self.configuration = configuration
        self.notifier = notifier
        self.logger = logger
    }

    /// Processes one batch of due work on `connection`.
    ///
    /// The batch is first handled whole in one transaction that takes its rows off the queue as
    /// it claims them (one statement, no savepoint); should anything throw, that transaction is
    /// rolled back, which puts the rows back, and a second one claims due rows again and handles
    /// each in a savepoint of its own, so that one poison dossier is retried later while the rest
    /// of its batch is decided now.
    ///
    /// The rows that second transaction handled are deleted after their savepoints, by the
    /// transaction that claimed them: a row locked by a transaction and deleted by one of its
    /// subtransactions gets a MultiXact for its xmax, and PostgreSQL never marks the index entry
    /// of such a row dead, so every later claim stepped over all the rows deleted since the last
    /// vacuum (17,000 heap pages a claim after 20,000 dossiers).
    ///
    /// - Returns: what the batch did, or `nil` when nothing was due.
    /// - Throws: `PostgresError` when the connection is lost (nothing of the batch is kept).
    func processBatch(on connection: Connection) throws -> BatchSummary? {
        let started = ContinuousClock.now
        let summary: BatchSummary?
        do {
            summary = try connection.transaction { connection in
                let items = try QueueStore(connection: connection).takeBatch(limit: configuration.batchSize)
                return items.isEmpty ? nil : try handle(items, on: connection)
            }
        } catch let error where !error.isConnectionLoss {
            logger.warning("batch failed, isolating its rows", metadata: ["error": "\(error.logDescription)"])
            summary = try connection.transaction { connection in
                let queue = QueueStore(connection: connection)
                let items = try queue.claimBatch(limit: configuration.batchSize)
                guard !items.isEmpty else { return nil }
                let (handled, doneIDs) = try handleOneByOne(items, on: connection)
                try queue.delete(doneIDs)
                return handled
            }
        }
        guard var summary else { return nil }
        summary.milliseconds = Int((ContinuousClock.now - started).seconds * 1000)
        logger.info(
            "batch",
            metadata: [
                "count": "\(summary.claimed)",
                "validated": "\(summary.outcomes[.validated, default: 0])",
                "awaiting_review": "\(summary.outcomes[.awaitingReview, default: 0])",
                "returned": "\(summary.outcomes[.returned, default: 0])",
                "planning_open": "\(summary.planningOpened)", "retried": "\(summary.retried)",
                "failed": "\(summary.failed)", "ms": "\(summary.milliseconds)",
            ])
        return summary
    }

    /// Handles each row in a savepoint of its own; returns the ids of the rows handled, for the
    /// caller to delete.
    private func handleOneByOne(_ items: [QueueItem], on connection: Connection) throws -> (BatchSummary, [Int64]) {
        var summary = BatchSummary()
        var doneIDs: [Int64] = []
        for item in items {
            do {
                summary.add(try connection.savepoint { try handle([item], on: $0) })
                doneIDs.append(item.id)
            } catch let error where !error.isConnectionLoss {
                let parked = try QueueStore(connection: connection).retryLater(
                    item.id, error: "\(error)", maxAttempts: error.isPermanent ? 1 : configuration.maxAttempts,
                    baseDelay: configuration.retryBaseDelay)
                logger.error(
                    parked ? "dossier failed, parked" : "dossier failed, will retry",
                    metadata: [
                        "dossier_id": "\(item.dossierID)", "attempt": "\(item.attempts + 1)", "error": "\(error.logDescription)",
                    ])
                summary.claimed += 1
                if parked { summary.failed += 1 } else { summary.retried += 1 }
            }
        }
        return (summary, doneIDs)
    }

    /// Decides the batch's submitted dossiers and carries the decisions out (the validated ones
    /// whose rights open now straight to `planning_open`), opens the rights the batch's scheduled
    /// jobs are for, then writes the families' emails in one statement.
    private func handle(_ items: [QueueItem], on connection: Connection) throws -> BatchSummary {
        var summary = BatchSummary()
        summary.claimed = items.count
        let decisions = DecisionStore(connection: connection)
        var openings: [DecisionStore.Opening] = []
        var built: [FamilyEmailStore.BuiltEmail] = []

        let processing = items.filter { $0.job == .process }
        if !processing.isEmpty {
            let judged = try judge(processing.map(\.dossierID), on: connection)
            let decided = try decisions.insert(
                judged.map(\.record), decidedBy: configuration.identity, expectedStates: [.submitted])
            let carried = judged.filter { decided[$0.record.dossierID] != nil }
            let opened = try decisions.carryOut(carried.map(\.verdict), openedBy: configuration.identity)
            (built, openings) = Self.planningOpenEmails(opened, of: carried)
            built += Self.dossierProcessedEmails(decided, of: carried)
            let scheduled = carried.filter { $0.record.outcome == .validated && $0.rightsOpening == .scheduled }
            try decisions.scheduleRights(scheduled.map(\.record.dossierID))
            for item in carried { summary.outcomes[item.record.outcome, default: 0] += 1 }
        }
        for (periodID, scheduled) in Dictionary(grouping: items.filter { $0.job == .openRights }, by: \.periodID) {
            guard let periodID else { continue }
            openings += try decisions.openRights(
                scheduled.map(\.dossierID), periods: .period(periodID), openedBy: configuration.identity)
        }
        try notifier?.notify(openings: openings, built: built, on: connection)
        summary.planningOpened = Set(openings.map(\.dossierID) + built.filter(\.opensPlanning).map(\.dossierID)).count
        return summary
    }

    /// The dossier-processed emails of the decisions just recorded (`decided`, decision ids by
    /// dossier id), built here from the dossiers judged.
    private static func dossierProcessedEmails(_ decided: [Int64: Int64], of judged: [Judged]) -> [FamilyEmailStore.BuiltEmail] {
        judged.compactMap { judged in
            guard let decisionID = decided[judged.record.dossierID],
                let particulars = EmailParticulars(decision: judged.record.outcome, of: judged.dossier, in: judged.structure)
            else { return nil }
            return .init(
                dossierID: judged.record.dossierID, cause: .decision(decisionID), particulars: particulars,
                catalog: judged.structure.catalog)
        }
    }

    /// The planning-open emails of these rights: built here where they are a judged dossier's
    /// first in the period, the others left for the database to write.
    private static func planningOpenEmails(_ rights: [DecisionStore.OpenedChildRights], of judged: [Judged])
        -> (built: [FamilyEmailStore.BuiltEmail], openings: [DecisionStore.Opening])
    {
        let judgedByID = Dictionary(judged.map { ($0.record.dossierID, $0) }, uniquingKeysWith: { first, _ in first })
        var built: [FamilyEmailStore.BuiltEmail] = []
        var openings: [DecisionStore.Opening] = []
        for (key, children) in Dictionary(grouping: rights, by: { [$0.dossierID, $0.periodID] }) {
            let (dossierID, periodID) = (key[0], key[1])
            if let dossier = judgedByID[dossierID],
                let particulars = EmailParticulars(firstOpening: children, of: dossier.dossier, in: dossier.structure)
            {
                built.append(
                    .init(
                        dossierID: dossierID, cause: .opening(period: periodID), particulars: particulars,
                        catalog: dossier.structure.catalog))
            } else {
                openings.append(
                    .init(dossierID: dossierID, periodID: periodID, children: Set(children.map(\.childPosition)).count))
            }
        }
        return (built, openings)
    }

    private struct Judged {
        var record: DecisionRecord
        var rightsOpening: RightsOpening
        /// What was judged: the dossier and its structure.
        var dossier: Dossier
        var structure: StructureContext

        /// The move that carries the decision out, with the periods to open now if it validates.
        var verdict: DecisionStore.Verdict {
            let opening: DecisionStore.PeriodSelection? =
                switch (record.outcome, rightsOpening) {
                case (.validated, .onValidation): .current
                case (.validated, .scheduled): .due
                default: nil
                }
            return .init(dossierID: record.dossierID, outcome: record.outcome, opening: opening)
        }
    }

    /// Runs the completeness rules over the dossiers still submitted; others were decided already.
    private func judge(_ ids: [Int64], on connection: Connection) throws -> [Judged] {
        let store = DossierStore(connection: connection)
        let dossiers = try store.load(ids).filter { $0.state == .submitted }
        let structures = try store.structures(Set(dossiers.map(\.structureID)))
        return try dossiers.map { loaded in
            guard let structure = structures[loaded.structureID] else {
                throw BackOfficeError(.failure, "dossier \(loaded.id): structure \(loaded.structureID) not found")
            }
            let findings = CompletenessRules.findings(for: loaded.dossier, policy: structure.policy)
            let outcome = CompletenessRules.outcome(for: findings, review: structure.review)
            return Judged(
                record: DecisionRecord(
                    dossierID: loaded.id, outcome: outcome, findings: findings, reason: nil,
                    contentSHA256: loaded.contentSHA256),
                rightsOpening: structure.rightsOpening, dossier: loaded.dossier, structure: structure)
        }
    }
}

extension Error {
    /// The error as logs may show it: no row values, which may be a family's personal data.
    var logDescription: String {
        switch self {
        case let error as PostgresError: error.logDescription
        case let error as BackOfficeError: (error.underlying as? PostgresError)?.logDescription ?? error.message
        default: "\(type(of: self)): \(self)"
        }
    }

    /// Whether trying again cannot help: an address no mail relay can deliver (stored before the
    /// import refused such addresses) is parked at once for an administrator, not retried.
    var isPermanent: Bool {
        (self as? MailError)?.code == .invalidAddress
    }

    /// Whether the database connection is gone, so that nothing more can be done on it.
    var isConnectionLoss: Bool {
        if let error = self as? PostgresError { return error.isConnectionError }
        if let error = self as? BackOfficeError { return error.code == .databaseUnreachable }
        return false
    }
}
