import Dossiers
import Foundation
import Postgres

/// Everything an administrator needs to see of one dossier (`eticket dossier show`).
public struct DossierDetails: Sendable, Equatable, Codable {
    public struct Account: Sendable, Equatable, Codable {
        public var email: String
        public var firstName: String
        public var lastName: String
        public var termsAcceptedAt: Date?
        public var houseRulesAcceptedAt: Date?
    }

    public struct Child: Sendable, Equatable, Codable {
        public var id: Int64
        /// 1-based, as `EXTERNALID/N` names the child.
        public var number: Int
        public var firstName: String
        public var lastName: String
        public var birthDate: String
        /// Age today, in the structure's time zone.
        public var age: Int
        public var school: String?
        public var grade: String?
        /// Service codes asked for; `nil` means all the structure's services.
        public var services: [String]?
        public var notes: String?
    }

    public struct Guardian: Sendable, Equatable, Codable {
        public var firstName: String
        public var lastName: String
        public var relationship: String?
        public var email: String?
        public var phone: String?
        /// The postal address on one line, `nil` when none was given.
        public var address: String?
        public var payer: Bool
        public var emergencyContact: Bool
        public var notes: String?
    }

    public struct TrustedPerson: Sendable, Equatable, Codable {
        public var firstName: String
        public var lastName: String
        public var relationship: String?
        public var phone: String?
        public var canPickUp: Bool
        public var emergencyContact: Bool
        public var notes: String?
    }

    /// A document kind the structure declares, and how many the dossier holds.
    public struct ExpectedDocument: Sendable, Equatable, Codable {
        public var kind: String
        public var label: String
        public var required: Bool
        var present: Int
    }

    public struct Document: Sendable, Equatable, Codable {
        public var kind: String
        public var filename: String
        public var mediaType: String
        public var size: Int
        public var notes: String?
    }

    public struct Decision: Sendable, Equatable, Codable {
        public var id: Int64
        public var decidedAt: Date
        public var decidedBy: String
        public var outcome: Outcome
        public var version: Int
        public var findings: [String]
        public var reason: String?
    }

    public struct Event: Sendable, Equatable, Codable {
        public var occurredAt: Date
        public var from: DossierState?
        public var to: DossierState
        public var actor: String
        public var reason: String?
        public var version: Int
    }

    public struct Right: Sendable, Equatable, Codable {
        public var child: String
        public var childNumber: Int
        /// The service's code, and its label as families read it.
        public var service: String
        public var serviceLabel: String
        /// The period's code, and its label.
        public var period: String
        public var periodLabel: String
        public var openedAt: Date
        public var openedBy: String
        /// Reservations made on this right.
        public var reservations: Int
    }

    public struct QueueRow: Sendable, Equatable, Codable {
        public var job: QueueItem.Job
        public var period: String?
        public var periodLabel: String?
        public var runAt: Date
        public var attempts: Int
        public var lastError: String?
        public var failedAt: Date?
    }

    /// One of the dossier's emails and its way to the family.
    public struct Email: Sendable, Equatable, Codable {
        public var id: Int64
        public var kind: String
        public var createdAt: Date
        public var delivery: EmailDelivery
        public var attempts: Int
        public var deliveredAt: Date?
        public var nextAttemptAt: Date?
        /// The relay's last reply, or what happened to the connection.
        public var reply: String?
        public var exportedAt: Date?
    }

    public var id: Int64
    public var externalID: String
    public var version: Int
    public var state: DossierState
    public var structure: String
    public var structureName: String
    /// The structure's IANA time zone, in which an administrator reads the dossier's times.
    public var timeZone: String
    public var locale: String
    public var confirmed: Bool
    public var submittedAt: Date?
    public var updatedAt: Date
    public var notes: String?
    public var account: Account
    public var children: [Child]
    public var guardians: [Guardian]
    public var trustedPersons: [TrustedPerson]
    /// The structure's document kinds, required first.
    public var expectedDocuments: [ExpectedDocument]
    /// The structure's services by code, with their labels, for the codes the children ask for.
    public var serviceLabels: [String: String]
    public var documents: [Document]
    /// The completeness rules run now on the stored content, as a worker would.
    public var currentFindings: [Finding]
    public var decisions: [Decision]
    public var events: [Event]
    public var rights: [Right]
    public var queue: [QueueRow]
    /// The family's emails about this dossier, oldest first.
    public var emails: [Email] = []

    /// Required kinds with no document.
    var missingDocuments: [ExpectedDocument] { expectedDocuments.filter { $0.required && $0.present == 0 } }
    /// Documents of no kind the structure declares (`free` and others).
    public var freeDocuments: [Document] {
        let known = Set(expectedDocuments.map(\.kind))
        return documents.filter { !known.contains($0.kind) }
    }
}

extension Administration {
    /// One dossier with its parts, its current findings, its decisions, history, rights and queue.
    ///
    /// - Parameter reference: the external id, or the internal numeric id.
    /// - Throws: ``BackOfficeError`` `.notFound` ("no dossier X").
    public func dossierDetails(_ reference: String) throws -> DossierDetails {
        let id = try dossierID(reference)
        return try database("cannot read dossier \(reference)") {
            try connection.transaction { connection in
                let store = DossierDetailsStore(connection: connection)
                try store.beginSnapshot()
                return try readDetails(id, store)
            }
        }
    }

    private func readDetails(_ id: Int64, _ store: DossierDetailsStore) throws -> DossierDetails {
        guard let header = try store.header(dossierID: id) else { throw BackOfficeError(.notFound, "no dossier \(id)") }
        var details = header.details
        let today = header.today
        details.children = try store.children(dossierID: id, today: today)
        details.guardians = try store.guardians(dossierID: id)
        details.trustedPersons = try store.trustedPersons(dossierID: id)
        details.expectedDocuments = try store.expectedDocuments(dossierID: id)
        details.documents = try store.documents(dossierID: id)
        details.decisions = try store.decisions(dossierID: id)
        details.events = try store.events(dossierID: id)
        details.rights = try store.rights(dossierID: id)
        details.queue = try store.queue(dossierID: id)
        details.emails = try store.emails(dossierID: id)
        details.serviceLabels = try store.serviceLabels(dossierID: id)

        // The rules exactly as a worker would run them now: the stored content, the structure's policy.
        let dossiers = DossierStore(connection: store.connection)
        if let loaded = try dossiers.load([id]).first,
            let structure = try dossiers.structures([loaded.structureID])[loaded.structureID]
        {
            details.currentFindings = CompletenessRules.findings(for: loaded.dossier, policy: structure.policy)
        }
        return details
    }
}
