import Dossiers

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

    public init(
        code: String, name: String, portalURL: String? = nil, senderName: String, senderEmail: String,
        replyTo: String? = nil, timeZone: String = "Europe/Paris"
    ) {
        self.code = code
        self.name = name
        self.portalURL = portalURL
        self.senderName = senderName
        self.senderEmail = senderEmail
        self.replyTo = replyTo
        self.timeZone = timeZone
    }

    /// The email-facing part of a structure as declared in the structures file.
    public init(_ structure: Structure) {
        self.init(
            code: structure.code, name: structure.name, portalURL: structure.portalURL,
            senderName: structure.sender.name, senderEmail: structure.sender.email,
            replyTo: structure.sender.replyTo, timeZone: structure.timezone)
    }
}

/// A child as an email shows it: names and the labels of the services the child may reserve.
public struct ChildInfo: Sendable, Equatable {
    public var firstName: String
    public var lastName: String
    /// Service labels (`Cantine`), for `planning-open`.
    public var services: [String]

    public init(firstName: String, lastName: String, services: [String] = []) {
        self.firstName = firstName
        self.lastName = lastName
        self.services = services
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

    public init(
        language: Language, dossierExternalID: String, account: Person, familyName: String? = nil,
        structure: StructureInfo, outcome: Outcome? = nil, reasons: [String] = [],
        children: [ChildInfo] = [], services: [String] = [], period: PeriodInfo? = nil
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
    }
}
