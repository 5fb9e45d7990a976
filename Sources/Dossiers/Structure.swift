import Foundation

/// How a complete dossier is decided.
public enum ReviewMode: String, Sendable, Codable, CaseIterable {
    /// The worker validates a complete dossier.
    case automatic
    /// A complete dossier waits for an administrator.
    case manual
}

/// When a validated dossier's children get reservation rights.
public enum RightsOpening: String, Sendable, Codable, CaseIterable {
    case onValidation = "on_validation"
    case scheduled
    case manual
}

/// A structure (municipality, association) as declared in `contracts/structures.schema.json`.
public struct Structure: Sendable, Equatable {
    public var code: String
    public var name: String
    public var postalCodes: [String]
    public var registrationCode: String
    public var timezone: String
    public var language: Language
    public var sender: Sender
    public var portalURL: String?
    /// How the structure's emails present it (optional, all of it).
    public var branding: Branding
    public var review: ReviewMode
    public var rightsOpening: RightsOpening
    public var documentKinds: [DocumentKind]
    public var services: [Service]
    public var periods: [Period]

    public init(
        code: String, name: String, postalCodes: [String], registrationCode: String,
        timezone: String = "Europe/Paris", language: Language = .fr, sender: Sender,
        portalURL: String? = nil, branding: Branding = Branding(), review: ReviewMode, rightsOpening: RightsOpening,
        documentKinds: [DocumentKind] = [], services: [Service], periods: [Period]
    ) {
        self.code = code
        self.name = name
        self.postalCodes = postalCodes
        self.registrationCode = registrationCode
        self.timezone = timezone
        self.language = language
        self.sender = sender
        self.portalURL = portalURL
        self.branding = branding
        self.review = review
        self.rightsOpening = rightsOpening
        self.documentKinds = documentKinds
        self.services = services
        self.periods = periods
    }

    /// Who the structure's emails come from.
    public struct Sender: Sendable, Equatable {
        public var name: String
        public var email: String
        public var replyTo: String?

        public init(name: String, email: String, replyTo: String? = nil) {
            self.name = name
            self.email = email
            self.replyTo = replyTo
        }
    }

    /// A supporting document the structure asks for; `required: false` means suggested.
    public struct DocumentKind: Sendable, Equatable {
        public var kind: String
        public var label: String
        public var required: Bool

        public init(kind: String, label: String, required: Bool) {
            self.kind = kind
            self.label = label
            self.required = required
        }
    }

    /// A service families reserve (canteen, morning care), on ISO weekdays (1 = Monday).
    public struct Service: Sendable, Equatable {
        public var code: String
        public var label: String
        public var weekdays: [Int]

        public init(code: String, label: String, weekdays: [Int]) {
            self.code = code
            self.label = label
            self.weekdays = weekdays
        }
    }

    /// A period of service (a school year, a holiday).
    public struct Period: Sendable, Equatable {
        public var code: String
        public var label: String
        public var startsOn: CalendarDate
        public var endsOn: CalendarDate
        public var planningOpensAt: Date?
        public var closedDates: [CalendarDate]

        public init(
            code: String, label: String, startsOn: CalendarDate, endsOn: CalendarDate,
            planningOpensAt: Date? = nil, closedDates: [CalendarDate] = []
        ) {
            self.code = code
            self.label = label
            self.startsOn = startsOn
            self.endsOn = endsOn
            self.planningOpensAt = planningOpensAt
            self.closedDates = closedDates
        }
    }
}

/// What the completeness rules need to know of a structure when judging one dossier.
public struct StructurePolicy: Sendable, Equatable {
    public var review: ReviewMode
    /// Document kinds the structure marks as required.
    public var requiredDocumentKinds: Set<String>
    /// The day children's ages are taken at: the start of the structure's next period.
    public var ageReferenceDate: CalendarDate
    /// The structure's labels of its document kinds, for messages to families; a kind without a
    /// label is shown as its code.
    public var documentLabels: [String: String] = [:]

    public init(review: ReviewMode, requiredDocumentKinds: Set<String>, ageReferenceDate: CalendarDate) {
        self.review = review
        self.requiredDocumentKinds = requiredDocumentKinds
        self.ageReferenceDate = ageReferenceDate
    }

    public init(
        review: ReviewMode, requiredDocumentKinds: Set<String>, ageReferenceDate: CalendarDate,
        documentLabels: [String: String]
    ) {
        self.init(review: review, requiredDocumentKinds: requiredDocumentKinds, ageReferenceDate: ageReferenceDate)
        self.documentLabels = documentLabels
    }
}
