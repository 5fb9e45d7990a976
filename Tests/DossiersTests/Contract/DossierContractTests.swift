import Foundation
import Testing

@testable import Dossiers

@Suite struct DossierContractTests {
    static func exampleDocument(_ index: Int = 0) throws -> JSONValue {
        let lines = try Fixtures.bytes("config/examples/dossiers.jsonl").split(separator: UInt8(ascii: "\n"))
        return try JSONParser().parse(lines[index])
    }

    @Test func embeddedSchemaLoads() throws {
        _ = try DossierContract.schema.get()
    }

    @Test func decodesTheFirstExample() throws {
        let dossier = try #require(try Fixtures.exampleDossiers()["VLF-0001"])
        #expect(dossier.structureCode == "villefranche")
        #expect(dossier.language == .fr)
        #expect(dossier.confirmed)
        #expect(dossier.submittedAt == Fixtures.instant("2026-08-21T17:04:11Z"))
        #expect(dossier.submittedAt.timeIntervalSince1970 == 1_787_331_851)
        #expect(dossier.account.termsAcceptedAt == Fixtures.instant("2026-08-20T16:01:00Z"))
        #expect(dossier.children.map(\.firstName) == ["Zoé", "Noé"])
        #expect(dossier.children[0].birthDate == Fixtures.date("2018-03-14"))
        #expect(dossier.children[0].services == ["cantine", "mercredi"])
        #expect(dossier.children[1].services == nil)
        #expect(
            dossier.guardians[0].address
                == PostalAddress(line1: "12 rue des Écoles", postalCode: "69400", city: "Villefranche-sur-Saône"))
        #expect(dossier.guardians[0].isPayer && dossier.guardians[0].isEmergencyContact)
        #expect(dossier.trustedPersons.map(\.canPickUp) == [true])
        #expect(
            dossier.documents == [
                Document(
                    kind: "assurance-scolaire", filename: "assurance-2026.pdf", mediaType: "application/pdf", size: 182_734,
                    sha256: String(repeating: "a", count: 64))
            ])
    }

    @Test func decodesEveryExample() throws {
        let dossiers = try Fixtures.exampleDossiers()
        #expect(dossiers.keys.sorted() == ["PTL-0001", "VLF-0001", "VLF-0002", "VLF-0003"])
        #expect(dossiers["PTL-0001"]?.language == .en)
        #expect(dossiers["VLF-0003"]?.children == [])
        #expect(dossiers["VLF-0003"]?.trustedPersons == [])
    }

    @Test func appliesTheSchemaDefaults() throws {
        var document = try Self.exampleDocument()
        document = document.setting(nil, at: ["locale"])
        document = document.setting(nil, at: ["guardians", 0, "payer"])
        document = document.setting(nil, at: ["guardians", 0, "emergency_contact"])
        document = document.setting(nil, at: ["trusted_persons", 0, "can_pick_up"])
        document = document.setting(.null, at: ["account", "terms_accepted_at"])
        let dossier = try DossierContract.decode(object: document).get()
        #expect(dossier.language == .fr)
        #expect(!dossier.guardians[0].isPayer)
        #expect(!dossier.guardians[0].isEmergencyContact)
        #expect(dossier.trustedPersons[0].canPickUp)
        #expect(dossier.account.termsAcceptedAt == nil)
    }

    @Test(arguments: [
        ("2026-08-21T19:04:11.25+02:00", 1_787_331_851.25),
        ("2026-08-21t17:04:11z", 1_787_331_851),
        ("2026-08-21T12:04:11-05:00", 1_787_331_851),
    ])
    func acceptsRFC3339Variants(text: String, seconds: Double) throws {
        let document = try Self.exampleDocument().setting(.text(text), at: ["submitted_at"])
        #expect(try DossierContract.decode(object: document).get().submittedAt.timeIntervalSince1970 == seconds)
    }

    static let longName = String(repeating: "é", count: 101)

    @Test(
        arguments: [
            (["submitted_at"], nil, "$.submitted_at", "is required"),
            (["account", "email"], nil, "$.account.email", "is required"),
            (["confirmed"], .text("yes"), "$.confirmed", "expected boolean, found string"),
            (["external_id"], .integer(12), "$.external_id", "expected string, found number"),
            (["children"], .literal("{}"), "$.children", "expected array, found object"),
            (
                ["account", "terms_accepted_at"], .bool(true), "$.account.terms_accepted_at",
                "expected string or null, found boolean"
            ),
            (["extra"], .integer(1), "$.extra", "unknown field (additionalProperties: false)"),
            (["children", 0, "age"], .integer(8), "$.children[0].age", "unknown field (additionalProperties: false)"),
            (
                ["guardians", 0, "address", "country"], .text("FR"), "$.guardians[0].address.country",
                "unknown field (additionalProperties: false)"
            ),
            (["external_id"], .text("VLF 0001"), "$.external_id", "does not match the pattern ^[A-Za-z0-9._-]{1,64}$"),
            (["external_id"], .text("VLF-0001\n"), "$.external_id", "does not match the pattern ^[A-Za-z0-9._-]{1,64}$"),
            (["children", 1, "birth_date"], .text("2026-02-30"), "$.children[1].birth_date", "is not a valid date (YYYY-MM-DD)"),
            (["children", 0, "birth_date"], .text("2018-3-14"), "$.children[0].birth_date", "is not a valid date (YYYY-MM-DD)"),
            (
                ["submitted_at"], .text("2026-08-21T19:04:11"), "$.submitted_at",
                "is not a valid date-time (RFC 3339, with a time zone)"
            ),
            (
                ["submitted_at"], .text("2026-08-21T24:00:00Z"), "$.submitted_at",
                "is not a valid date-time (RFC 3339, with a time zone)"
            ),
            (["account", "first_name"], .text(longName), "$.account.first_name", "longer than 100 characters"),
            (["documents", 0, "sha256"], .text("AAAA"), "$.documents[0].sha256", "does not match the pattern ^[0-9a-f]{64}$"),
            (["documents", 0, "size"], .integer(-1), "$.documents[0].size", "must be at least 0, found -1"),
            (["documents", 0, "size"], .literal("1.5"), "$.documents[0].size", "expected integer, found number"),
            (["locale"], .text("de"), "$.locale", #"must be one of "fr", "en", found "de""#),
            (["children", 0, "services", 1], .null, "$.children[0].services[1]", "expected string, found null"),
        ] as [([Step], JSONValue?, String, String)])
    func reportsTheViolation(path: [Step], value: JSONValue?, violationPath: String, reason: String) throws {
        let document = try Self.exampleDocument().setting(value, at: path)
        let error = DossierContract.decode(object: document).failure
        #expect(error?.violations == [ContractViolation(path: violationPath, reason: reason)])
        #expect(error?.syntax == nil)
    }

    @Test func exactly100CharactersIsAllowed() throws {
        let document = try Self.exampleDocument().setting(
            .text(String(repeating: "é", count: 100)), at: ["account", "first_name"])
        #expect(throws: Never.self) { try DossierContract.decode(object: document).get() }
    }

    @Test func collectsEveryViolationInDocumentOrder() throws {
        var document = try Self.exampleDocument()
        document = document.setting(.text("VLF 0001"), at: ["external_id"])
        document = document.setting(nil, at: ["structure"])
        document = document.setting(.text("de"), at: ["locale"])
        document = document.setting(.integer(-5), at: ["documents", 0, "size"])
        document = document.setting(.integer(1), at: ["extra"])
        let error = try #require(DossierContract.decode(object: document).failure)
        #expect(error.violations.map(\.path) == ["$.structure", "$.external_id", "$.locale", "$.documents[0].size", "$.extra"])
        #expect(error.description.hasPrefix("$.structure: is required; $.external_id: does not match"))
        #expect(error.description.hasSuffix("; $.extra: unknown field (additionalProperties: false)"))

        let many = document.setting(.integer(2), at: ["more"]).setting(.integer(3), at: ["again"])
        let manyError = try #require(DossierContract.decode(object: many).failure)
        #expect(manyError.violations.count == 7)
        #expect(manyError.description.hasSuffix("; and 2 more"))
    }

    @Test func rootMustBeAnObject() {
        let error = DossierContract.decode(line: Array("[1]".utf8)).failure
        #expect(error?.violations == [ContractViolation(path: "$", reason: "expected object, found array")])
    }

    @Test func reportsSyntaxErrors() {
        let error = DossierContract.decode(line: Array(#"{"external_id": "a", "external_id": "b"}"#.utf8)).failure
        #expect(error?.syntax?.reason == #"duplicate key "external_id""#)
        #expect(error?.syntax?.offset == 21)
        #expect(error?.violations == [])
        #expect(error?.description == #"invalid JSON at line 1, column 22 (byte 21): duplicate key "external_id""#)
    }

    @Test func documentKeepsTheSubmittedLine() throws {
        let line = try Fixtures.bytes("config/examples/dossiers.jsonl").split(separator: UInt8(ascii: "\n"))[0]
        let document = try DossierContract.document(line: line).get()
        #expect(document["external_id"] == .string("VLF-0001"))
        #expect(try JSONParser().parse(Array(document.jsonText.utf8)) == document)
        #expect(DossierContract.document(line: Array("{}".utf8)).failure?.violations.count == 7)
    }

    @Test func decodesAThousandLinesQuickly() throws {
        let line = try Fixtures.bytes("config/examples/dossiers.jsonl").split(separator: UInt8(ascii: "\n"))[0]
        var decoded = 0
        let elapsed = ContinuousClock().measure {
            for _ in 0..<1_000 where (try? DossierContract.decode(line: line).get()) != nil { decoded += 1 }
        }
        #expect(decoded == 1_000)
        // Debug build, shared cores: a generous bound that still catches an accidental slowdown.
        #expect(elapsed < .seconds(10))
    }
}

@Test func anIntegerBeyond64BitsIsTooLargeNotMissing() throws {
    let line =
        #"{"external_id":"X-1","structure":"s","account":{"email":"a@b","first_name":"A","last_name":"B"},"submitted_at":"2026-08-21T19:04:11+02:00","confirmed":true,"children":[],"guardians":[],"documents":[{"kind":"free","filename":"f","media_type":"m","size":99999999999999999999,"sha256":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}"#
    guard case .failure(let error) = DossierContract.decode(line: Array(line.utf8)) else {
        Issue.record("a 20-digit size was accepted")
        return
    }
    #expect(error.violations.map(\.path) == ["$.documents[0].size"])
    #expect(error.violations.first?.reason == "is too large: 99999999999999999999")
}
