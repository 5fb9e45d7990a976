import Dossiers

extension EmailParticulars {
    /// The particulars of the dossier-processed email of a decision a worker has just recorded on
    /// `dossier`: what ``FamilyEmailStore/decisionParticulars`` reads from the database. `nil` for
    /// a decision the family is not told of (awaiting review).
    init?(decision outcome: Outcome, of dossier: Dossier, in structure: StructureContext) {
        guard outcome != .awaitingReview else { return nil }
        self.init(
            language: dossier.language.rawValue, dossier: dossier.externalID, firstName: dossier.account.firstName,
            lastName: dossier.account.lastName,
            children: dossier.children.map { Child(firstName: $0.firstName, lastName: $0.lastName) },
            nextStep: outcome == .validated ? Self.nextStep(in: structure) : nil)
    }

    /// When a validated dossier's children can reserve: with the validation (`now`), when the
    /// structure opens the rights (`manual`, also when no period is left to open), or at the next
    /// `planning_opens_at` still to come (`now` when none is).
    private static func nextStep(in structure: StructureContext) -> String {
        let current = structure.periods.filter { $0.endsOn >= structure.today }
        guard !current.isEmpty else { return "manual" }
        switch structure.rightsOpening {
        case .onValidation: return "now"
        case .manual: return "manual"
        case .scheduled:
            let coming = current.filter(\.opensLater).compactMap(\.opensAt)
            return coming.min { (Double($0) ?? 0) < (Double($1) ?? 0) } ?? "now"
        }
    }

    /// The particulars of the planning-open email of a dossier's first rights in a period, built
    /// by the worker that opened them from the dossier it judged: what
    /// ``FamilyEmailStore/openingParticulars`` reads from the database, without its JSON (about a
    /// tenth of the database's work for a dossier).
    ///
    /// `nil` when the database has to say it: rights the dossier had before in the period (some
    /// days may be reserved), a child or a service this worker does not know of.
    init?(firstOpening rights: [DecisionStore.OpenedChildRights], of dossier: Dossier, in structure: StructureContext) {
        guard let periodID = rights.first?.periodID, rights.allSatisfy(\.first),
            let period = structure.periods.first(where: { $0.id == periodID })
        else { return nil }
        var children: [Child] = []
        for right in rights.sorted(by: { $0.childPosition < $1.childPosition }) {
            guard dossier.children.indices.contains(right.childPosition) else { return nil }
            let services = structure.services.filter { right.serviceIDs.contains($0.id) }
            guard services.count == Set(right.serviceIDs).count else { return nil }
            let child = dossier.children[right.childPosition]
            children.append(
                Child(
                    firstName: child.firstName, lastName: child.lastName,
                    services: services.map { Service(label: $0.label, weekdays: $0.weekdays, reserved: []) }))
        }
        self.init(
            language: dossier.language.rawValue, dossier: dossier.externalID, firstName: dossier.account.firstName,
            lastName: dossier.account.lastName, children: children,
            shownFrom: max(period.startsOn, structure.today).description)
    }
}
