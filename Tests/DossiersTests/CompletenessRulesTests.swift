import Foundation
import Testing

@testable import Dossiers

@Suite struct CompletenessRulesTests {
    @Test func rulesAreInTheTableOrder() {
        #expect(
            CompletenessRules.all.map(\.code) == [
                "children.none", "child.incomplete", "payer.missing", "payer.contact", "emergency.missing",
                "document.missing", "confirmation.missing",
            ])
    }

    @Test func completeDossierHasNoFinding() {
        #expect(CompletenessRules.findings(for: Fixtures.completeDossier(), policy: Fixtures.policy) == [])
    }

    /// One defect at a time, each caught by exactly one rule.
    enum Defect: String, CaseIterable, Sendable {
        case noChild, childWithoutName, noPayer, payerWithoutAddress, noEmergencyContact, noInsurance, notConfirmed

        func apply(to dossier: inout Dossier) {
            switch self {
            case .noChild: dossier.children = []
            case .childWithoutName: dossier.children[0].firstName = " \t"
            case .noPayer: dossier.guardians[0].isPayer = false
            case .payerWithoutAddress: dossier.guardians[0].address = nil
            case .noEmergencyContact: dossier.trustedPersons[0].isEmergencyContact = false
            case .noInsurance: dossier.documents = []
            case .notConfirmed: dossier.confirmed = false
            }
        }

        var expected: (code: String, part: String) {
            switch self {
            case .noChild: ("children.none", "children")
            case .childWithoutName: ("child.incomplete", "children[0]")
            case .noPayer: ("payer.missing", "guardians")
            case .payerWithoutAddress: ("payer.contact", "guardians[0]")
            case .noEmergencyContact: ("emergency.missing", "guardians")
            case .noInsurance: ("document.missing", "documents.assurance-scolaire")
            case .notConfirmed: ("confirmation.missing", "confirmed")
            }
        }
    }

    @Test(arguments: Defect.allCases)
    func eachRuleAlone(defect: Defect) {
        var dossier = Fixtures.completeDossier()
        defect.apply(to: &dossier)
        let findings = CompletenessRules.findings(for: dossier, policy: Fixtures.policy)
        #expect(findings.map(\.code) == [defect.expected.code])
        #expect(findings.map(\.part) == [defect.expected.part])
        // Every finding speaks both languages.
        #expect(findings.allSatisfy { !$0.messageFR.isEmpty && !$0.messageEN.isEmpty && $0.messageFR != $0.messageEN })
    }

    @Test func everyFindingIsCollected() {
        var dossier = Fixtures.completeDossier()
        for defect in [Defect.noChild, .noPayer, .noEmergencyContact, .noInsurance, .notConfirmed] {
            defect.apply(to: &dossier)
        }
        #expect(
            CompletenessRules.findings(for: dossier, policy: Fixtures.policy).map(\.code) == [
                "children.none", "payer.missing", "emergency.missing", "document.missing", "confirmation.missing",
            ])
    }

    @Test func childMessagesNameThePositionAndTheProblem() {
        var dossier = Fixtures.completeDossier()
        dossier.children = [
            Child(firstName: "Léo", lastName: "Durand", birthDate: Fixtures.date("2019-05-04")),
            Child(firstName: "Mia", lastName: "", birthDate: Fixtures.date("2007-08-31")), // 19 on 2026-09-01
            Child(firstName: "", lastName: "Durand", birthDate: Fixtures.date("2026-10-01")), // not born yet
        ]
        let findings = CompletenessRules.childIncomplete.check(dossier, Fixtures.policy)
        #expect(findings.map(\.part) == ["children[1]", "children[2]"])
        #expect(
            findings.map(\.messageFR) == [
                "Enfant 2 : nom manquant, date de naissance invraisemblable (âge hors de 0 à 18 ans au 01/09/2026).",
                "Enfant 3 : prénom manquant, date de naissance dans le futur.",
            ])
        #expect(
            findings[0].messageEN == "Child 2: last name missing, implausible birth date (age outside 0 to 18 on 2026-09-01).")
        #expect(findings.allSatisfy { !$0.messageFR.contains("Mia") })
    }

    @Test(arguments: [
        ("2008-09-01", true), // 18 on the reference day
        ("2008-08-31", true), // 18, the day after turning 18
        ("2007-09-01", false), // 19
        ("2026-08-02", true), // born the day of submission: age 0
        ("2026-08-04", false), // after the submission
    ])
    func birthDatePlausibility(birthDate: String, plausible: Bool) {
        var dossier = Fixtures.completeDossier()
        dossier.children[0].birthDate = Fixtures.date(birthDate)
        #expect(CompletenessRules.childIncomplete.check(dossier, Fixtures.policy).isEmpty == plausible)
    }

    @Test(
        arguments: [
            (nil, "0600000000", "1 r", "69400", "V", nil),
            ("a@b.fr", nil, "1 r", "69400", "V", nil),
            (nil, nil, "1 r", "69400", "V", "Responsable payeur : aucune adresse e-mail ni aucun numéro de téléphone."),
            (
                "a@b.fr", nil, "1 r", " ", nil,
                "Responsable payeur : adresse postale incomplète, il manque le code postal, la ville."
            ),
            ("a@b.fr", nil, nil, nil, nil, "Responsable payeur : aucune adresse postale."),
            (
                " ", "", nil, nil, nil,
                "Responsable payeur : aucune adresse e-mail ni aucun numéro de téléphone ; aucune adresse postale."
            ),
        ] as [(String?, String?, String?, String?, String?, String?)])
    func payerContact(email: String?, phone: String?, line1: String?, postalCode: String?, city: String?, message: String?) {
        var dossier = Fixtures.completeDossier()
        dossier.guardians[0].email = email
        dossier.guardians[0].phone = phone
        dossier.guardians[0].address = PostalAddress(line1: line1, postalCode: postalCode, city: city)
        #expect(CompletenessRules.payerContact.check(dossier, Fixtures.policy).map(\.messageFR) == (message.map { [$0] } ?? []))
    }

    @Test func oneReachablePayerIsEnough() {
        var dossier = Fixtures.completeDossier()
        let unreachable = Guardian(firstName: "B", lastName: "C", isPayer: true)
        dossier.guardians.insert(unreachable, at: 0)
        #expect(CompletenessRules.payerContact.check(dossier, Fixtures.policy) == [])
        dossier.guardians[1].address = nil
        let findings = CompletenessRules.payerContact.check(dossier, Fixtures.policy)
        #expect(findings.map(\.part) == ["guardians"])
    }

    @Test func payerContactIsSilentWithoutPayer() {
        var dossier = Fixtures.completeDossier()
        dossier.guardians[0].isPayer = false
        dossier.guardians[0].address = nil
        #expect(CompletenessRules.payerContact.check(dossier, Fixtures.policy) == [])
    }

    @Test func emergencyContactNeedsAPhone() {
        var dossier = Fixtures.completeDossier()
        dossier.trustedPersons[0].phone = "   "
        #expect(CompletenessRules.emergencyMissing.check(dossier, Fixtures.policy).count == 1)
        dossier.guardians[0].isEmergencyContact = true
        #expect(CompletenessRules.emergencyMissing.check(dossier, Fixtures.policy).count == 1)
        dossier.guardians[0].phone = "0611111111"
        #expect(CompletenessRules.emergencyMissing.check(dossier, Fixtures.policy) == [])
    }

    @Test func oneFindingPerMissingDocumentKind() {
        var policy = Fixtures.policy
        policy.requiredDocumentKinds = ["assurance-scolaire", "carnet-vaccination", "quotient-familial"]
        policy.documentLabels = ["carnet-vaccination": "Copie du carnet de vaccination"]
        let findings = CompletenessRules.documentMissing.check(Fixtures.completeDossier(), policy)
        #expect(findings.map(\.part) == ["documents.carnet-vaccination", "documents.quotient-familial"])
        #expect(
            findings.map(\.messageFR) == [
                "Justificatif manquant : Copie du carnet de vaccination.", "Justificatif manquant : quotient-familial.",
            ])
    }

    @Test func confirmationListsEverythingMissing() {
        var dossier = Fixtures.completeDossier()
        dossier.account.houseRulesAcceptedAt = nil
        var findings = CompletenessRules.confirmationMissing.check(dossier, Fixtures.policy)
        #expect(findings.map(\.part) == ["account.house_rules_accepted_at"])
        dossier.confirmed = false
        dossier.account.termsAcceptedAt = nil
        findings = CompletenessRules.confirmationMissing.check(dossier, Fixtures.policy)
        #expect(
            findings.map(\.messageFR) == [
                "Confirmation incomplète : la case de confirmation n'est pas cochée ; les conditions générales "
                    + "d'utilisation ne sont pas acceptées ; le règlement intérieur n'est pas accepté."
            ])
        #expect(findings.map(\.part) == ["confirmed"])
    }

    @Test(arguments: [
        ("VLF-0001", "villefranche", [String](), Outcome.validated),
        ("VLF-0002", "villefranche", ["payer.missing"], .returned),
        ("VLF-0003", "villefranche", ["children.none", "payer.contact", "emergency.missing", "document.missing"], .returned),
        ("PTL-0001", "saint-amour", [], .awaitingReview),
    ])
    func exampleDossiers(externalID: String, structure: String, codes: [String], outcome: Outcome) throws {
        let dossier = try #require(try Fixtures.exampleDossiers()[externalID])
        let structure = try #require(try Fixtures.exampleStructures()[structure])
        let policy = structure.policy(on: Fixtures.date("2026-08-21"))
        let findings = CompletenessRules.findings(for: dossier, policy: policy)
        #expect(findings.map(\.code) == codes)
        #expect(CompletenessRules.outcome(for: findings, review: policy.review) == outcome)
    }

    @Test func exampleThreeFindingsInDetail() throws {
        let dossier = try #require(try Fixtures.exampleDossiers()["VLF-0003"])
        let findings = CompletenessRules.findings(for: dossier, policy: Fixtures.policy)
        #expect(findings.map(\.part) == ["children", "guardians[0]", "guardians", "documents.assurance-scolaire"])
        #expect(findings[1].messageFR == "Responsable payeur : aucune adresse postale.")
    }

    @Test func examplePoliciesTakeAgesAtThePeriodStart() throws {
        let structures = try Fixtures.exampleStructures()
        let villefranche = try #require(structures["villefranche"]).policy(on: Fixtures.date("2026-08-21"))
        let saintAmour = try #require(structures["saint-amour"]).policy(on: Fixtures.date("2026-12-01"))
        #expect(villefranche.ageReferenceDate == Fixtures.date("2026-09-01"))
        #expect(villefranche.requiredDocumentKinds == ["assurance-scolaire"])
        #expect(villefranche.review == .automatic)
        #expect(saintAmour.ageReferenceDate == Fixtures.date("2027-02-08"))
        #expect(saintAmour.requiredDocumentKinds == ["carnet-vaccination"])
        #expect(saintAmour.review == .manual)
    }

    @Test(arguments: [
        (true, ReviewMode.automatic, Outcome.validated),
        (true, .manual, .awaitingReview),
        (false, .automatic, .returned),
        (false, .manual, .returned),
    ])
    func outcome(complete: Bool, review: ReviewMode, expected: Outcome) {
        let findings = complete ? [] : [Finding(code: "payer.missing", part: "guardians", messageFR: "x", messageEN: "y")]
        #expect(CompletenessRules.outcome(for: findings, review: review) == expected)
    }
}
