extension Structure {
    /// The period a dossier submitted on `day` is for: the first period (by start) not yet over on
    /// that day, or the last one when all are over; `nil` without periods.
    public func currentPeriod(on day: CalendarDate) -> Period? {
        let byStart = periods.sorted { $0.startsOn < $1.startsOn }
        return byStart.first { $0.endsOn >= day } ?? byStart.last
    }

    /// What the completeness rules need to judge a dossier submitted on `day`: the review mode, the
    /// required document kinds with their labels, and ages taken at the start of
    /// ``currentPeriod(on:)`` (`day` itself for a structure without periods).
    public func policy(on day: CalendarDate) -> StructurePolicy {
        StructurePolicy(
            review: review,
            requiredDocumentKinds: Set(documentKinds.filter(\.required).map(\.kind)),
            ageReferenceDate: currentPeriod(on: day)?.startsOn ?? day,
            documentLabels: Dictionary(documentKinds.map { ($0.kind, $0.label) }, uniquingKeysWith: { first, _ in first }))
    }
}
