import Dossiers
import Foundation
import Postgres

extension DecisionStore {
    /// What opening rights by policy did: the openings (for the planning-open emails) and how many
    /// (dossier, period) openings were queued for later.
    struct PolicyOpening {
        var openings: [Opening] = []
        var scheduled = 0
    }

    /// Opens the rights of freshly validated dossiers by their structure's `rights_opening`: now
    /// (`on_validation`), the due periods now and the later ones queued for their time
    /// (`scheduled`), or not at all (`manual`). Shared by the worker and an administrator's approval.
    func openRights(byPolicy dossiers: [RightsOpening: [Int64]], openedBy: String) throws -> PolicyOpening {
        var result = PolicyOpening()
        result.openings = try openRights(dossiers[.onValidation] ?? [], periods: .current, openedBy: openedBy)
        if let scheduled = dossiers[.scheduled], !scheduled.isEmpty {
            result.openings += try openRights(scheduled, periods: .due, openedBy: openedBy)
            result.scheduled = try scheduleRights(scheduled)
        }
        return result
    }
}

/// What `eticket rights open` did.
public struct RightsOpeningReport: Sendable, Equatable, Codable {
    public var structure: String
    public var period: String
    public var service: String?
    /// The labels of the period and the service, as families read them.
    public var periodLabel: String?
    public var serviceLabel: String?
    /// The structure's IANA time zone, in which `scheduledAt` is shown.
    public var timeZone = "Europe/Paris"
    /// Validated or planning-open dossiers of the structure: the ones rights are for.
    public var eligibleDossiers = 0
    /// Children who gained a right in this run (none twice).
    public var children = 0
    /// Dossiers (families) that gained a right in this run.
    public var families = 0
    /// Planning-open emails written to the outbox.
    public var emails = 0
    /// When the opening was queued for later instead (`--at` in the future).
    public var scheduledAt: Date?
    /// Dossiers whose opening is queued for `scheduledAt`.
    public var scheduledDossiers = 0
}

extension Administration {
    /// The time zone of the structure `code`, in which its calendar and local times are read.
    ///
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure.
    public func timeZone(ofStructure code: String) throws -> TimeZone {
        let name: String? = try database("cannot read the structure \(code)") {
            try RightsOpeningStore(connection: connection).timeZone(ofStructure: code)
        }
        guard let name else { throw BackOfficeError(.notFound, "no structure \(code)") }
        guard let zone = TimeZone(identifier: name) else {
            throw BackOfficeError(.failure, "the structure \(code) has a time zone this machine does not know: \(name)")
        }
        return zone
    }

    /// Opens reservation rights for every validated (or planning-open) dossier of a structure, for
    /// one period (and one service, or all), with the planning-open emails, in one transaction.
    ///
    /// Idempotent: rights are never opened twice and a family is mailed once per period, so a
    /// second run reports zero. Opening a whole period now cancels its queued openings. With `at` in the future nothing opens now: one `open_rights` queue
    /// row per dossier is set to that time, for the worker (or `eticket batch run`) to carry out.
    ///
    /// - Parameters:
    ///   - at: when to open; `nil`, now or a past time (by the database clock, or the `eticket.clock` it is pinned to) opens now.
    ///   - outbox: renders the planning-open emails.
    /// - Throws: ``BackOfficeError`` `.notFound` for an unknown structure, period or service;
    ///   `.refused` for a service with a future `at` (queued openings cover whole periods).
    public func openRights(
        structure code: String, period periodCode: String, service serviceCode: String? = nil, at: Date? = nil,
        outbox: EmailOutbox
    ) throws -> RightsOpeningReport {
        var report = RightsOpeningReport(structure: code, period: periodCode, service: serviceCode)
        return try database("cannot open the reservation rights") {
            try connection.transaction { connection in
                guard
                    let target = try RightsOpeningStore(connection: connection).target(
                        structure: code, period: periodCode, service: serviceCode)
                else { throw BackOfficeError(.notFound, "no structure \(code)") }
                guard let periodID = target.periodID else {
                    throw BackOfficeError(.notFound, "structure \(code) has no period \(periodCode)")
                }
                if let serviceCode, target.serviceID == nil {
                    throw BackOfficeError(.notFound, "structure \(code) has no service \(serviceCode)")
                }
                report.timeZone = target.timeZone
                report.periodLabel = target.periodLabel
                report.serviceLabel = target.serviceLabel
                let dossiers = target.eligibleDossiers
                report.eligibleDossiers = dossiers.count
                if let at, at > target.now {
                    guard serviceCode == nil else {
                        throw BackOfficeError(
                            .refused, "a scheduled opening covers the whole period: drop --service, or open it now without --at")
                    }
                    report.scheduledAt = at
                    report.scheduledDossiers = try DecisionStore(connection: connection).scheduleRights(
                        dossiers, period: periodID, at: at)
                    return report
                }
                let openings = try DecisionStore(connection: connection).openRights(
                    dossiers, periods: .period(periodID), serviceID: target.serviceID, openedBy: target.actor)
                if target.serviceID == nil {
                    // The period is open for them now: a queued opening has nothing left to do.
                    try RightsOpeningStore(connection: connection).cancelQueuedOpenings(period: periodID, dossiers: dossiers)
                }
                report.children = openings.map(\.children).reduce(0, +)
                report.families = Set(openings.map(\.dossierID)).count
                report.emails = try outbox.writeRightsOpened(openings, on: connection)
                return report
            }
        }
    }
}
