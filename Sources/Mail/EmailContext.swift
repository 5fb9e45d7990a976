import Dossiers
import Foundation

/// The two emails a family receives.
public enum EmailKind: String, Sendable, CaseIterable, Codable {
    /// The dossier has been processed: validated, returned with reasons, or rejected.
    case dossierProcessed = "dossier-processed"
    /// The reservation planning is open for the family's children.
    case planningOpen = "planning-open"
}

/// A person with a name and an email address: the recipient of an email.
public struct Person: Sendable, Equatable {
    public var firstName: String
    public var lastName: String
    public var email: String

    public init(firstName: String, lastName: String, email: String) {
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
    }
}

/// What an email needs to know of a structure: its names, its sender and its time zone.
public struct StructureInfo: Sendable, Equatable {
    public var code: String
    public var name: String
    /// The family portal's address, shown as a link when present (http or https only).
    public var portalURL: String?
    /// The display name of `From`.
    public var senderName: String
    /// The address of `From`; its domain also names the `Message-ID`s.
    public var senderEmail: String
    /// The address of `Reply-To`, when replies go elsewhere than the sender.
    public var replyTo: String?
    /// An IANA time zone identifier (`Europe/Paris`) for the `Date` header.
    public var timeZone: String
    /// The header's name, logo and colour and the footer's contact; checked again when rendered
    /// (a logo that is not https, a colour that is not `#rrggbb`, are left out).
    public var branding: Branding

    public init(
        code: String, name: String, portalURL: String? = nil, senderName: String, senderEmail: String,
        replyTo: String? = nil, timeZone: String = "Europe/Paris", branding: Branding = Branding()
    ) {
        self.code = code
        self.name = name
        self.portalURL = portalURL
        self.senderName = senderName
        self.senderEmail = senderEmail
        self.replyTo = replyTo
        self.timeZone = timeZone
        self.branding = branding
    }

    /// The email-facing part of a structure as declared in the structures file.
    public init(_ structure: Structure) {
        self.init(
            code: structure.code, name: structure.name, portalURL: structure.portalURL,
            senderName: structure.sender.name, senderEmail: structure.sender.email,
            replyTo: structure.sender.replyTo, timeZone: structure.timezone, branding: structure.branding)
    }
}

/// A child as an email shows it: names and the labels of the services the child may reserve.
public struct ChildInfo: Sendable, Equatable {
    public var firstName: String
    public var lastName: String
    /// Service labels (`Cantine`), for `planning-open`.
    public var services: [String]
    /// The first weeks of the period for each service the child has rights to, for
    /// `planning-open`'s `<calendars/>`: the grids `planning show` draws.
    public var calendars: [PlanningGrid]

    public init(firstName: String, lastName: String, services: [String] = [], calendars: [PlanningGrid] = []) {
        self.firstName = firstName
        self.lastName = lastName
        self.services = services
        self.calendars = calendars
    }
}

/// A period of service as an email shows it.
public struct PeriodInfo: Sendable, Equatable {
    public var label: String
    public var startsOn: CalendarDate
    public var endsOn: CalendarDate

    public init(label: String, startsOn: CalendarDate, endsOn: CalendarDate) {
        self.label = label
        self.startsOn = startsOn
        self.endsOn = endsOn
    }
}

/// When a validated dossier's children can reserve: the structure's rights opening, as the
/// validated email announces it.
public enum NextStep: Sendable, Equatable {
    /// Rights open with the validation: the planning-open email follows.
    case now
    /// Rights open at the period's `planning_opens_at`.
    case on(Date)
    /// An administrator of the structure opens them.
    case byStructure

    /// The name `<if next="…">` uses.
    var name: String {
        switch self {
        case .now: "now"
        case .on: "scheduled"
        case .byStructure: "manual"
        }
    }
}

/// Everything a template may show, as plain values: the caller fills it from the database.
///
/// Every value is text. Rendering escapes it in HTML and encodes it in headers; no value can add
/// markup or a header line.
public struct EmailContext: Sendable, Equatable {
    public var language: Language
    /// The portal's id of the dossier (`VLF-0001`).
    public var dossierExternalID: String
    /// The portal account: the recipient.
    public var account: Person
    /// The family's name as the email addresses it (usually the account's last name).
    public var familyName: String
    public var structure: StructureInfo
    /// The decision, for `dossier-processed`; `nil` for `planning-open`.
    public var outcome: Outcome?
    /// The reasons in the dossier's language: findings of a returned dossier, or an
    /// administrator's reason.
    public var reasons: [String]
    public var children: [ChildInfo]
    /// Service labels, for `planning-open`.
    public var services: [String]
    /// The period, for `planning-open`.
    public var period: PeriodInfo?
    /// What the family must do about each reason (same order as ``reasons``; empty when the
    /// reason speaks for itself).
    public var reasonActions: [String]
    /// When the children can reserve, for a validated dossier.
    public var nextStep: NextStep?

    public init(
        language: Language, dossierExternalID: String, account: Person, familyName: String? = nil,
        structure: StructureInfo, outcome: Outcome? = nil, reasons: [String] = [],
        children: [ChildInfo] = [], services: [String] = [], period: PeriodInfo? = nil,
        reasonActions: [String] = [], nextStep: NextStep? = nil
    ) {
        self.language = language
        self.dossierExternalID = dossierExternalID
        self.account = account
        self.familyName = familyName ?? account.lastName
        self.structure = structure
        self.outcome = outcome
        self.reasons = reasons
        self.children = children
        self.services = services
        self.period = period
        self.reasonActions = reasonActions
        self.nextStep = nextStep
    }
}
