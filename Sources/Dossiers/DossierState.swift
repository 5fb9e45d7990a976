/// Where a dossier stands. Raw values are the database's (`dossier_state` enum in `sql/`).
///
/// ```
/// submitted ──worker──▶ validated ──rights opened──▶ planning_open
///     │ ▲      └──────▶ awaiting_review ──approve──▶ validated
///     │ │      └──────▶ returned ◀──return── awaiting_review
///     │ └─resubmit───── returned            awaiting_review ──reject──▶ rejected
/// ```
public enum DossierState: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case draft
    case submitted
    case awaitingReview = "awaiting_review"
    case validated
    case returned
    case rejected
    case planningOpen = "planning_open"
}

/// The verdict recorded for a dossier, by a worker or an administrator.
public enum Outcome: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case validated
    case awaitingReview = "awaiting_review"
    case returned
    case rejected

    /// The dossier state this outcome leads to.
    public var state: DossierState {
        switch self {
        case .validated: .validated
        case .awaitingReview: .awaitingReview
        case .returned: .returned
        case .rejected: .rejected
        }
    }

    /// Whether this outcome ends processing, so the family is told (awaiting review is not one).
    public var notifiesFamily: Bool { self != .awaitingReview }
}

/// One reason a dossier is incomplete, as a completeness rule found it.
public struct Finding: Sendable, Equatable, Hashable, Codable {
    /// The rule's stable code (`payer.missing`), which scripts and templates match on.
    public var code: String
    /// The part of the dossier concerned, as a path (`children[1].birth_date`, `documents`).
    public var part: String
    public var messageFR: String
    public var messageEN: String

    public init(code: String, part: String, messageFR: String, messageEN: String) {
        self.code = code
        self.part = part
        self.messageFR = messageFR
        self.messageEN = messageEN
    }

    public func message(in language: Language) -> String {
        language == .fr ? messageFR : messageEN
    }

    enum CodingKeys: String, CodingKey {
        case code, part
        case messageFR = "message_fr"
        case messageEN = "message_en"
    }
}

extension DossierState {
    /// The database's label (`planning_open`), as reports and logs print it.
    public var description: String { rawValue }
}

extension Outcome {
    /// The database's label (`awaiting_review`), as reports and logs print it.
    public var description: String { rawValue }
}
