import Testing

@testable import Dossiers

@Suite struct DossierStateMachineTests {
    /// The transitions (docs/architecture.md draws them), written out independently of the source.
    static let expected: Set<String> = [
        "draft→submitted", "submitted→validated", "submitted→awaiting_review", "submitted→returned",
        "awaiting_review→validated", "awaiting_review→returned", "awaiting_review→rejected", "returned→submitted",
        "validated→planning_open", "validated→returned", "planning_open→returned",
    ]

    @Test(arguments: DossierState.allCases, DossierState.allCases)
    func everyPair(from: DossierState, to: DossierState) {
        let allowed = Self.expected.contains("\(from.rawValue)→\(to.rawValue)")
        #expect(from.canMove(to: to) == allowed)
        #expect(DossierState.allowedTransitions.contains(Transition(from: from, to: to)) == allowed)
    }

    @Test func tableHasExactlyTheExpectedTransitions() {
        #expect(Set(DossierState.allowedTransitions.map { "\($0.from.rawValue)→\($0.to.rawValue)" }) == Self.expected)
    }

    @Test func finalStatesLeadNowhere() {
        #expect(DossierState.rejected.nextStates == [])
        #expect(DossierState.planningOpen.nextStates == [.returned])
        #expect(DossierState.returned.nextStates == [.submitted])
    }
}
