import Foundation
import Testing

@testable import Dossiers

@Suite struct StructuresContractTests {
    static func exampleDocument() throws -> JSONValue {
        try JSONParser().parse(Fixtures.bytes("config/examples/structures.json"))
    }

    @Test func embeddedSchemaLoads() throws {
        _ = try StructuresContract.schema.get()
    }

    @Test func decodesTheExample() throws {
        let structures = try StructuresContract.decode(Fixtures.bytes("config/examples/structures.json")).get()
        #expect(structures.map(\.code) == ["villefranche", "saint-amour"])
        let villefranche = structures[0]
        #expect(villefranche.name == "Mairie de Villefranche — Service Enfance")
        #expect(villefranche.postalCodes == ["69400"])
        #expect(villefranche.registrationCode == "VLF-2026-ENF")
        #expect(
            villefranche.sender
                == Structure.Sender(
                    name: "Service Enfance de Villefranche", email: "enfance@villefranche.example",
                    replyTo: "accueil-enfance@villefranche.example"))
        #expect(villefranche.portalURL == "https://portail-famille.example/villefranche")
        #expect(
            villefranche.branding
                == Branding(
                    displayName: "Ville de Villefranche · Enfance", accentColor: "#0B6E4F", phone: "04 74 62 00 00",
                    address: "Hôtel de ville, 96 rue de la Sous-Préfecture, 69400 Villefranche-sur-Saône",
                    openingHours: "du lundi au vendredi, 8 h 30 – 12 h et 13 h 30 – 17 h"))
        #expect(villefranche.review == .automatic)
        #expect(villefranche.rightsOpening == .onValidation)
        #expect(
            villefranche.documentKinds == [
                Structure.DocumentKind(kind: "assurance-scolaire", label: "Attestation d'assurance scolaire", required: true),
                Structure.DocumentKind(kind: "quotient-familial", label: "Attestation CAF (quotient familial)", required: false),
            ])
        #expect(villefranche.services.map(\.code) == ["cantine", "garderie-matin", "mercredi"])
        #expect(villefranche.services[0].weekdays == [1, 2, 4, 5])
        #expect(
            villefranche.periods == [
                Structure.Period(
                    code: "2026-2027", label: "Année scolaire 2026-2027", startsOn: Fixtures.date("2026-09-01"),
                    endsOn: Fixtures.date("2027-07-03"), closedDates: [Fixtures.date("2026-11-11"), Fixtures.date("2026-12-25")])
            ])

        let saintAmour = structures[1]
        // Defaults of the schema for what the file leaves out.
        #expect(saintAmour.timezone == "Europe/Paris")
        #expect(saintAmour.language == .fr)
        #expect(saintAmour.portalURL == nil)
        #expect(saintAmour.branding == Branding())
        #expect(saintAmour.sender.replyTo == nil)
        #expect(saintAmour.review == .manual)
        #expect(saintAmour.rightsOpening == .scheduled)
        #expect(saintAmour.periods[0].planningOpensAt == Fixtures.instant("2027-01-15T08:00:00Z"))
        #expect(saintAmour.periods[0].closedDates == [])
    }

    @Test(
        arguments: [
            (
                ["structures", 0, "periods", 0, "ends_on"], JSONValue.text("2026-08-31"),
                "$.structures[0].periods[0].ends_on", "is before starts_on (2026-09-01)"
            ),
            (
                ["structures", 0, "periods", 0, "closed_dates", 1], .text("2027-07-04"),
                "$.structures[0].periods[0].closed_dates[1]", "2027-07-04 is outside the period (2026-09-01 to 2027-07-03)"
            ),
            (
                ["structures", 1, "code"], .text("villefranche"),
                "$.structures[1].code", #"duplicate code "villefranche", first used at $.structures[0]"#
            ),
            (
                ["structures", 0, "services", 2, "code"], .text("cantine"),
                "$.structures[0].services[2].code", #"duplicate code "cantine", first used at $.structures[0].services[0]"#
            ),
            (
                ["structures", 0, "documents", 1, "kind"], .text("assurance-scolaire"),
                "$.structures[0].documents[1].kind",
                #"duplicate code "assurance-scolaire", first used at $.structures[0].documents[0]"#
            ),
            (
                ["structures", 0, "services", 0, "weekdays"], .literal("[1, 2, 1]"),
                "$.structures[0].services[0].weekdays", "items must be unique: [2] repeats [0]"
            ),
            (
                ["structures", 0, "services", 0, "weekdays", 0], .integer(8),
                "$.structures[0].services[0].weekdays[0]", "must be at most 7, found 8"
            ),
            (
                ["structures", 0, "services", 0, "weekdays"], .literal("[]"),
                "$.structures[0].services[0].weekdays", "must have at least 1 item, found 0"
            ),
            (
                ["structures", 0, "code"], .text("Villefranche"),
                "$.structures[0].code", "does not match the pattern ^[a-z0-9][a-z0-9-]{0,62}$"
            ),
            (["structures", 0, "name"], .text(""), "$.structures[0].name", "must not be empty"),
            (
                ["structures", 0, "registration_code"], .text("ABC"), "$.structures[0].registration_code",
                "shorter than 4 characters"
            ),
            (
                ["structures", 0, "sender", "email"], .text("enfance at villefranche"), "$.structures[0].sender.email",
                "is not a valid email address"
            ),
            (
                ["structures", 0, "portal_url"], .text("portail-famille.example"), "$.structures[0].portal_url",
                "is not a valid absolute URI: portail-famille.example"
            ),
            (
                ["structures", 0, "review"], .text("auto"), "$.structures[0].review",
                #"must be one of "automatic", "manual", found "auto""#
            ),
            (
                ["structures", 1, "periods", 0, "planning_opens_at"], .text("2027-01-15 09:00"),
                "$.structures[1].periods[0].planning_opens_at", "is not a valid date-time (RFC 3339, with a time zone)"
            ),
            (["structures", 1, "services"], nil, "$.structures[1].services", "is required"),
            (
                ["structures", 0, "branding", "accent_color"], .text("#0b6e4"), "$.structures[0].branding.accent_color",
                ##""#0b6e4" is not a colour; expected #RRGGBB, six hexadecimal digits (e.g. #1f5fa8)"##
            ),
            (
                ["structures", 0, "branding", "accent_color"], .text("green"), "$.structures[0].branding.accent_color",
                ##""green" is not a colour; expected #RRGGBB, six hexadecimal digits (e.g. #1f5fa8)"##
            ),
            (
                ["structures", 0, "branding", "logo_url"], .text("http://villefranche.example/logo.png"),
                "$.structures[0].branding.logo_url",
                #""http://villefranche.example/logo.png" is not a logo address; expected an https:// address without spaces, quotes, <, > or backslashes, at most 2000 characters"#
            ),
            (
                ["structures", 0, "branding", "logo_url"], .text("https://x.example/\"onerror=\"alert(1)"),
                "$.structures[0].branding.logo_url",
                #""https://x.example/\"onerror=\"alert(1)" is not a logo address; expected an https:// address without spaces, quotes, <, > or backslashes, at most 2000 characters"#
            ),
            (
                ["structures", 0, "branding", "contact", "phone"], .text(""), "$.structures[0].branding.contact.phone",
                "must not be empty"
            ),
        ] as [([Step], JSONValue?, String, String)])
    func reportsTheViolation(path: [Step], value: JSONValue?, violationPath: String, reason: String) throws {
        let document = try Self.exampleDocument().setting(value, at: path)
        #expect(
            StructuresContract.decode(document: document).failure?.violations == [
                ContractViolation(path: violationPath, reason: reason)
            ])
    }

    @Test func periodCodesAreUniqueWithinAStructureOnly() throws {
        let period = JSONValue.literal(
            #"{"code": "2026-2027", "label": "Bis", "starts_on": "2027-01-01", "ends_on": "2027-01-31"}"#)
        var document = try Self.exampleDocument()
        // The same period code in another structure is fine.
        document = document.setting(period, at: ["structures", 1, "periods", 0])
        #expect(throws: Never.self) { try StructuresContract.decode(document: document).get() }
        document = document.setting(.literal("[]"), at: ["structures", 0, "periods", 0, "closed_dates"])
        let periods = JSONValue.array([try #require(document["structures"]?.arrayValue?[0]["periods"]?.arrayValue?[0]), period])
        document = document.setting(periods, at: ["structures", 0, "periods"])
        #expect(
            StructuresContract.decode(document: document).failure?.violations == [
                ContractViolation(
                    path: "$.structures[0].periods[1].code",
                    reason: #"duplicate code "2026-2027", first used at $.structures[0].periods[0]"#)
            ])
    }

    @Test func emptyStructuresListIsRefused() {
        let error = StructuresContract.decode(Array(#"{"structures": []}"#.utf8)).failure
        #expect(error?.violations == [ContractViolation(path: "$.structures", reason: "must have at least 1 item, found 0")])
    }
}
