import Dossiers
import Foundation
import Postgres

/// An administrator's verdict on a dossier.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    case approve
    case `return`
    case reject

    /// The decision outcome it records.
    public var outcome: Outcome {
        switch self {
        case .approve: .validated
        case .return: .returned
        case .reject: .rejected
        }
    }

    /// The states a dossier may be in for this verdict (the state machine's moves to its outcome
    /// that an administrator makes).
    var allowedFrom: [DossierState] {
        switch self {
        case .approve, .reject: [.awaitingReview]
        case .return: [.awaitingReview, .validated, .planningOpen]
        }
    }

    var needs: String {
        switch self {
        case .approve, .reject: "a dossier awaiting review"
        case .return: "a dossier awaiting review, validated or with its planning open"
        }
    }
}

/// What an administrator's decision (or a bulk decision) did.
public struct DecisionReport: Sendable, Equatable, Codable {
    public struct Decided: Sendable, Equatable, Codable {
        public var externalID: String
        public var from: DossierState
        public var to: DossierState
        public var decisionID: Int64
    }

    public var verdict: String
    public var decidedBy: String
    public var decided: [Decided] = []
    /// Dossiers whose reservation rights opened now.
    public var planningOpened = 0
    /// Children who gained reservation rights now.
    public var childrenWithRights = 0
    /// Rights openings queued for a period's planning_opens_at (`scheduled` structures).
    public var openingsScheduled = 0
    /// Reservation rights removed by returning a validated dossier, and the reservations with them.
    public var rightsRemoved = 0
    public var reservationsRemoved = 0
    /// Queued openings cancelled by returning a validated dossier.
    public var openingsCancelled = 0
    /// Emails written to the outbox (dossier-processed and planning-open).
    public var emails = 0
}

extension Administration {
    /// Records an administrator's verdict on one dossier, through the worker's decision path, in
    /// one transaction: the decision (`admin:<name>`), the state change and its event (carrying the
    /// reason and the administrator), the rights the structure's policy opens after an approval,
    /// and the family's emails.
    ///
    /// Returning a validated dossier removes its reservation rights (and their reservations) and
    /// cancels its queued openings. A return lists the rules' current findings and the reason.
    ///
    /// - Parameters:
    ///   - externalID: the dossier's portal id.
    ///   - reason: required for `return` and `reject`; recorded on the decision and the event.
    ///   - name: the administrator, recorded as `admin:<name>`.
    ///   - structure: when given, the dossier must belong to it.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown dossier; `.refused` when its state
    ///   (or structure) does not allow the verdict, with nothing written.
    public func decide(
        _ externalID: String, _ verdict: Verdict, reason: String?, by name: String, structure: String? = nil,
        outbox: EmailOutbox
    ) throws -> DecisionReport {
        // A misspelt --structure is an unknown name (exit 3), not a dossier of another structure.
        try requireStructure(structure)
        return try decide(verdict, reason: reason, by: name, outbox: outbox) { connection in
            let found = try ReviewStore(connection: connection).lockDossier(externalID: externalID)
            guard let found else { throw BackOfficeError(.notFound, "no dossier \(externalID)") }
            if let structure, structure != found.structure {
                throw BackOfficeError(.refused, "\(externalID) belongs to \(found.structure), not \(structure)")
            }
            guard verdict.allowedFrom.contains(found.state) else {
                throw BackOfficeError(
                    .refused, "\(externalID) is \(found.state.rawValue): \(verdict.rawValue) needs \(verdict.needs)")
            }
            return [found.id]
        }
    }

    /// Records the same verdict on every dossier of `structure` awaiting review, set-based, in one
    /// transaction; see ``decide(_:_:reason:by:structure:outbox:)``.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func decideAllAwaiting(
        structure: String, _ verdict: Verdict, reason: String?, by name: String, outbox: EmailOutbox
    ) throws -> DecisionReport {
        try decide(verdict, reason: reason, by: name, outbox: outbox) { connection in
            let found = try ReviewStore(connection: connection).lockAwaitingReview(structure: structure)
            guard let found else { throw BackOfficeError(.notFound, "no structure \(structure)") }
            return found
        }
    }

    private func decide(
        _ verdict: Verdict, reason: String?, by name: String, outbox: EmailOutbox,
        select: (Connection) throws -> [Int64]
    ) throws -> DecisionReport {
        let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw BackOfficeError(.badInput, "the administrator's name (--by) is empty") }
        if verdict != .approve, reason?.isEmpty ?? true {
            throw BackOfficeError(.badInput, "\(verdict.rawValue) needs a reason (--reason), which the family reads")
        }
        let decidedBy = "admin:\(name)"
        var report = DecisionReport(verdict: verdict.rawValue, decidedBy: decidedBy)
        return try database("cannot record the decision") {
            try connection.transaction { connection in
                // The event trigger records who moved the dossier and why, for this transaction only.
                let review = ReviewStore(connection: connection)
                try review.setEventContext(actor: decidedBy, reason: reason ?? "")
                let ids = try select(connection)
                guard !ids.isEmpty else { return report }
                let store = DossierStore(connection: connection)
                let dossiers = try store.load(ids)
                let structures = try store.structures(Set(dossiers.map(\.structureID)))
                let records = dossiers.map { loaded in
                    var findings: [Finding] = []
                    if verdict == .return, let structure = structures[loaded.structureID] {
                        findings = CompletenessRules.findings(for: loaded.dossier, policy: structure.policy)
                    }
                    return DecisionRecord(
                        dossierID: loaded.id, outcome: verdict.outcome, findings: findings, reason: reason,
                        contentSHA256: loaded.contentSHA256)
                }
                let returning = dossiers.filter { $0.state == .validated || $0.state == .planningOpen }.map(\.id)
                if verdict == .return, !returning.isEmpty {
                    let removed = try review.removeRights(returning)
                    report.rightsRemoved = removed.rights
                    report.reservationsRemoved = removed.reservations
                    report.openingsCancelled = removed.queued
                }
                let decisions = DecisionStore(connection: connection)
                let decided = try decisions.record(records, decidedBy: decidedBy, expectedStates: verdict.allowedFrom)
                report.decided = dossiers.compactMap { loaded in
                    decided[loaded.id].map {
                        .init(
                            externalID: loaded.dossier.externalID, from: loaded.state,
                            to: verdict.outcome.state, decisionID: $0)
                    }
                }.sorted { $0.externalID < $1.externalID }
                report.emails = try outbox.writeDecisionsRecorded(Array(decided.values), on: connection)
                // The reason explains the decision, not the rights opening that follows it.
                try review.clearEventReason()
                if verdict == .approve {
                    let byPolicy = Dictionary(
                        grouping: dossiers.filter { decided[$0.id] != nil },
                        by: { structures[$0.structureID]?.rightsOpening ?? .manual }
                    ).mapValues { $0.map(\.id) }
                    let opened = try decisions.openRights(byPolicy: byPolicy, openedBy: decidedBy)
                    report.planningOpened = Set(opened.openings.map(\.dossierID)).count
                    report.childrenWithRights = opened.openings.map(\.children).reduce(0, +)
                    report.openingsScheduled = opened.scheduled
                    report.emails += try outbox.writeRightsOpened(opened.openings, on: connection)
                }
                // Not who decided: an administrator's name is personal data too, and the
                // decisions and events record it where it belongs.
                logger.info(
                    "administrator decision", metadata: ["verdict": "\(verdict.rawValue)", "count": "\(report.decided.count)"])
                return report
            }
        }
    }
}
