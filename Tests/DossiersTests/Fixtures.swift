import Foundation
import Testing

@testable import Dossiers

/// Files of the repository the tests read, and dossiers built in code.
enum Fixtures {
    /// The repository root, found from this file's place in `Tests/DossiersTests/`.
    static func repositoryFile(_ relativePath: String, filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath)
            .deletingLastPathComponent() // DossiersTests
            .deletingLastPathComponent() // Tests
            .deletingLastPathComponent() // root
            .appendingPathComponent(relativePath)
    }

    static func bytes(_ relativePath: String) throws -> [UInt8] {
        Array(try Data(contentsOf: repositoryFile(relativePath)))
    }

    /// The example dossiers of `config/examples/dossiers.jsonl`, by external id.
    static func exampleDossiers() throws -> [String: Dossier] {
        let lines = try bytes("config/examples/dossiers.jsonl").split(separator: UInt8(ascii: "\n"))
        var dossiers: [String: Dossier] = [:]
        for line in lines {
            let dossier = try DossierContract.decode(line: line).get()
            dossiers[dossier.externalID] = dossier
        }
        return dossiers
    }

    /// The example structures of `config/examples/structures.json`, by code.
    static func exampleStructures() throws -> [String: Structure] {
        let structures = try StructuresContract.decode(bytes("config/examples/structures.json")).get()
        return Dictionary(uniqueKeysWithValues: structures.map { ($0.code, $0) })
    }

    static func date(_ text: String) -> CalendarDate {
        guard let date = CalendarDate(iso: text) else {
            Issue.record("bad fixture date \(text)")
            return CalendarDate(daysSinceEpoch: 0)
        }
        return date
    }

    static func instant(_ text: String) -> Date {
        guard let date = RFC3339.date(from: text) else {
            Issue.record("bad fixture date-time \(text)")
            return Date(timeIntervalSince1970: 0)
        }
        return date
    }

    /// Villefranche's policy for the 2026-2027 school year: automatic review, school insurance
    /// required.
    static let policy = StructurePolicy(
        review: .automatic, requiredDocumentKinds: ["assurance-scolaire"], ageReferenceDate: date("2026-09-01"))

    /// A dossier every rule accepts under ``policy``; tests break one part of it at a time.
    static func completeDossier() -> Dossier {
        Dossier(
            externalID: "T-1", structureCode: "villefranche",
            account: Account(
                email: "a@example.org", firstName: "Anne", lastName: "Durand",
                termsAcceptedAt: instant("2026-08-01T10:00:00Z"), houseRulesAcceptedAt: instant("2026-08-01T10:00:00Z")),
            submittedAt: instant("2026-08-02T10:00:00+02:00"), confirmed: true,
            children: [Child(firstName: "Léo", lastName: "Durand", birthDate: date("2019-05-04"))],
            guardians: [
                Guardian(
                    firstName: "Anne", lastName: "Durand", email: "a@example.org", phone: nil,
                    address: PostalAddress(line1: "1 rue Haute", postalCode: "69400", city: "Villefranche"),
                    isPayer: true, isEmergencyContact: false)
            ],
            trustedPersons: [TrustedPerson(firstName: "Paul", lastName: "Roux", phone: "0600000000", isEmergencyContact: true)],
            documents: [
                Document(
                    kind: "assurance-scolaire", filename: "a.pdf", mediaType: "application/pdf", size: 1,
                    sha256: String(repeating: "a", count: 64))
            ])
    }
}
