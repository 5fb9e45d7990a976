/// A move of a dossier from one state to another.
public struct Transition: Hashable, Sendable, CustomStringConvertible {
    public let from: DossierState
    public let to: DossierState

    public init(from: DossierState, to: DossierState) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(from.rawValue) → \(to.rawValue)" }
}

extension DossierState {
    /// The allowed transitions, the single Swift source of truth.
    ///
    /// The SQL migration holds the same table (the database refuses any other move); a BackOffice
    /// test compares the two, so change both together.
    public static let allowedTransitions: Set<Transition> = [
        // The family sends its dossier.
        Transition(from: .draft, to: .submitted),
        // A worker decides.
        Transition(from: .submitted, to: .validated),
        Transition(from: .submitted, to: .awaitingReview),
        Transition(from: .submitted, to: .returned),
        // An administrator decides a dossier under manual review.
        Transition(from: .awaitingReview, to: .validated),
        Transition(from: .awaitingReview, to: .returned),
        Transition(from: .awaitingReview, to: .rejected),
        // The family corrects a returned dossier and sends it again; it is checked afresh.
        Transition(from: .returned, to: .submitted),
        // Reservation rights open.
        Transition(from: .validated, to: .planningOpen),
        // An administrator reopens a validated dossier for the family to correct, even once its
        // planning is open (its rights and reservations are withdrawn with it).
        Transition(from: .validated, to: .returned),
        Transition(from: .planningOpen, to: .returned),
    ]

    /// Whether a dossier in this state may move to `next`.
    public func canMove(to next: DossierState) -> Bool {
        Self.allowedTransitions.contains(Transition(from: self, to: next))
    }

    /// The states a dossier in this state may move to, in declaration order.
    public var nextStates: [DossierState] {
        Self.allCases.filter(canMove(to:))
    }
}
