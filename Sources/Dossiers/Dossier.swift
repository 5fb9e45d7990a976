import Foundation

/// The language a family or a structure reads.
public enum Language: String, Sendable, Codable, CaseIterable {
    case fr, en
}

/// A *dossier famille* as the family portal submitted it (`contracts/dossier.schema.json`).
///
/// Values are kept as the family typed them: completeness is judged by ``CompletenessRules``, not
/// enforced here, so an incomplete dossier is representable and can be returned with reasons.
public struct Dossier: Sendable, Equatable {
    /// The portal's stable id of the dossier (`VLF-0001`).
    public var externalID: String
    /// The code of the structure the family is attached to.
    public var structureCode: String
    public var account: Account
    public var submittedAt: Date
    /// The mandatory box the family ticks before sending.
    public var confirmed: Bool
    public var language: Language
    public var notes: String?
    public var children: [Child]
    public var guardians: [Guardian]
    public var trustedPersons: [TrustedPerson]
    public var documents: [Document]

    public init(
        externalID: String, structureCode: String, account: Account, submittedAt: Date,
        confirmed: Bool, language: Language = .fr, notes: String? = nil, children: [Child] = [],
        guardians: [Guardian] = [], trustedPersons: [TrustedPerson] = [], documents: [Document] = []
    ) {
        self.externalID = externalID
        self.structureCode = structureCode
        self.account = account
        self.submittedAt = submittedAt
        self.confirmed = confirmed
        self.language = language
        self.notes = notes
        self.children = children
        self.guardians = guardians
        self.trustedPersons = trustedPersons
        self.documents = documents
    }
}

/// The portal account that submitted the dossier.
public struct Account: Sendable, Equatable {
    public var email: String
    public var firstName: String
    public var lastName: String
    /// Acceptance of the service's terms of use (CGU).
    public var termsAcceptedAt: Date?
    /// Acceptance of the structure's house rules (règlement intérieur).
    public var houseRulesAcceptedAt: Date?

    public init(
        email: String, firstName: String, lastName: String, termsAcceptedAt: Date? = nil,
        houseRulesAcceptedAt: Date? = nil
    ) {
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.termsAcceptedAt = termsAcceptedAt
        self.houseRulesAcceptedAt = houseRulesAcceptedAt
    }
}

public struct Child: Sendable, Equatable {
    public var firstName: String
    public var lastName: String
    public var birthDate: CalendarDate
    public var school: String?
    public var grade: String?
    /// Service codes asked for this child; `nil` means all the structure's services.
    public var services: [String]?
    public var notes: String?

    public init(
        firstName: String, lastName: String, birthDate: CalendarDate, school: String? = nil,
        grade: String? = nil, services: [String]? = nil, notes: String? = nil
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.birthDate = birthDate
        self.school = school
        self.grade = grade
        self.services = services
        self.notes = notes
    }
}

public struct PostalAddress: Sendable, Equatable {
    public var line1: String?
    public var line2: String?
    public var postalCode: String?
    public var city: String?

    public init(line1: String? = nil, line2: String? = nil, postalCode: String? = nil, city: String? = nil) {
        self.line1 = line1
        self.line2 = line2
        self.postalCode = postalCode
        self.city = city
    }
}

/// A legal guardian (responsable légal).
public struct Guardian: Sendable, Equatable {
    public var firstName: String
    public var lastName: String
    public var relationship: String?
    public var email: String?
    public var phone: String?
    public var address: PostalAddress?
    public var isPayer: Bool
    public var isEmergencyContact: Bool
    public var notes: String?

    public init(
        firstName: String, lastName: String, relationship: String? = nil, email: String? = nil,
        phone: String? = nil, address: PostalAddress? = nil, isPayer: Bool = false,
        isEmergencyContact: Bool = false, notes: String? = nil
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.relationship = relationship
        self.email = email
        self.phone = phone
        self.address = address
        self.isPayer = isPayer
        self.isEmergencyContact = isEmergencyContact
        self.notes = notes
    }
}

/// A trusted person (tiers de confiance), allowed to pick the children up.
public struct TrustedPerson: Sendable, Equatable {
    public var firstName: String
    public var lastName: String
    public var relationship: String?
    public var phone: String?
    public var canPickUp: Bool
    public var isEmergencyContact: Bool
    public var notes: String?

    public init(
        firstName: String, lastName: String, relationship: String? = nil, phone: String? = nil,
        canPickUp: Bool = true, isEmergencyContact: Bool = false, notes: String? = nil
    ) {
        self.firstName = firstName
        self.lastName = lastName
        self.relationship = relationship
        self.phone = phone
        self.canPickUp = canPickUp
        self.isEmergencyContact = isEmergencyContact
        self.notes = notes
    }
}

/// A supporting document's metadata; the file itself stays in the portal's storage.
public struct Document: Sendable, Equatable {
    /// One of the structure's document kinds, or `free`.
    public var kind: String
    public var filename: String
    public var mediaType: String
    public var size: Int
    public var sha256: String
    public var notes: String?

    public init(kind: String, filename: String, mediaType: String, size: Int, sha256: String, notes: String? = nil) {
        self.kind = kind
        self.filename = filename
        self.mediaType = mediaType
        self.size = size
        self.sha256 = sha256
        self.notes = notes
    }
}
