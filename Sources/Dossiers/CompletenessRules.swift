import Foundation

/// One completeness rule: a stable code and a pure check that returns the dossier's findings for it
/// (none when the dossier satisfies the rule).
public struct CompletenessRule: Sendable {
    /// The code every finding of this rule carries (`payer.missing`).
    public let code: String
    public let check: @Sendable (Dossier, StructurePolicy) -> [Finding]

    public init(code: String, check: @escaping @Sendable (Dossier, StructurePolicy) -> [Finding]) {
        self.code = code
        self.check = check
    }
}

/// The completeness rules, which decide whether a submitted dossier can be validated.
///
/// Messages are addressed to the family (they go into the "dossier returned" email) and never name
/// a person: a child is named by its position in the dossier.
public enum CompletenessRules {
    /// The version of the rule set, recorded with every decision so a decision can be explained
    /// after the rules change. Bump it whenever a rule or a message changes.
    public static let version = "2026-11.1"

    /// Every rule, in the order of the findings (the order the family reads them in).
    public static let all: [CompletenessRule] = [
        childrenNone, childIncomplete, payerMissing, payerContact, emergencyMissing, documentMissing,
        confirmationMissing,
    ]

    /// Every finding of every rule, never short-circuited: a returned dossier lists every reason.
    public static func findings(for dossier: Dossier, policy: StructurePolicy) -> [Finding] {
        all.flatMap { $0.check(dossier, policy) }
    }

    /// The verdict for a dossier with these findings.
    ///
    /// - Returns: ``Outcome/returned`` when there is any finding; for a complete dossier,
    ///   ``Outcome/validated`` under automatic review and ``Outcome/awaitingReview`` under manual.
    public static func outcome(for findings: [Finding], review: ReviewMode) -> Outcome {
        guard findings.isEmpty else { return .returned }
        return review == .automatic ? .validated : .awaitingReview
    }

    // MARK: - The rules

    /// `children.none`: at least one child.
    public static let childrenNone = CompletenessRule(code: "children.none") { dossier, _ in
        guard dossier.children.isEmpty else { return [] }
        return [
            Finding(
                code: "children.none", part: "children",
                messageFR: "Le dossier ne comporte aucun enfant.",
                messageEN: "The dossier lists no child.")
        ]
    }

    /// `child.incomplete`: every child has a first name, a last name and a plausible birth date
    /// (0 to 18 years old at the policy's reference date, and not after the submission).
    public static let childIncomplete = CompletenessRule(code: "child.incomplete") { dossier, policy in
        // The submission's calendar day where it is latest (UTC+14): a child born "today" anywhere
        // is not in the future.
        let submittedDay = CalendarDate(
            daysSinceEpoch: Int((dossier.submittedAt.timeIntervalSince1970 + 14 * 3_600) / 86_400))
        let reference = policy.ageReferenceDate
        return dossier.children.enumerated().compactMap { index, child in
            var problemsFR: [String] = []
            var problemsEN: [String] = []
            if isBlank(child.firstName) {
                problemsFR.append("prénom manquant")
                problemsEN.append("first name missing")
            }
            if isBlank(child.lastName) {
                problemsFR.append("nom manquant")
                problemsEN.append("last name missing")
            }
            if child.birthDate > submittedDay {
                problemsFR.append("date de naissance dans le futur")
                problemsEN.append("birth date in the future")
            } else if !(0...18).contains(child.birthDate.age(on: reference)) {
                problemsFR.append("date de naissance invraisemblable (âge hors de 0 à 18 ans au \(frenchDate(reference)))")
                problemsEN.append("implausible birth date (age outside 0 to 18 on \(reference))")
            }
            guard !problemsFR.isEmpty else { return nil }
            return Finding(
                code: "child.incomplete", part: "children[\(index)]",
                messageFR: "Enfant \(index + 1) : \(problemsFR.joined(separator: ", ")).",
                messageEN: "Child \(index + 1): \(problemsEN.joined(separator: ", ")).")
        }
    }

    /// `payer.missing`: at least one legal guardian is flagged as payer.
    public static let payerMissing = CompletenessRule(code: "payer.missing") { dossier, _ in
        guard !dossier.guardians.contains(where: \.isPayer) else { return [] }
        return [
            Finding(
                code: "payer.missing", part: "guardians",
                messageFR: "Aucun responsable légal n'est désigné comme payeur.",
                messageEN: "No legal guardian is designated as the payer.")
        ]
    }

    /// `payer.contact`: some payer has an email address or a phone number, and a complete postal
    /// address (street, postal code, city). Silent when there is no payer: `payer.missing` says so.
    public static let payerContact = CompletenessRule(code: "payer.contact") { dossier, _ in
        let payers = dossier.guardians.enumerated().filter { $0.element.isPayer }
        guard !payers.isEmpty, !payers.contains(where: { payerGaps($0.element).isEmpty }) else { return [] }
        if payers.count == 1, let (index, payer) = payers.first {
            let gaps = payerGaps(payer)
            return [
                Finding(
                    code: "payer.contact", part: "guardians[\(index)]",
                    messageFR: "Responsable payeur : \(gaps.map(\.fr).joined(separator: " ; ")).",
                    messageEN: "Paying guardian: \(gaps.map(\.en).joined(separator: "; ")).")
            ]
        }
        return [
            Finding(
                code: "payer.contact", part: "guardians",
                messageFR: "Aucun des responsables payeurs n'a à la fois une adresse e-mail ou un numéro de téléphone "
                    + "et une adresse postale complète.",
                messageEN: "None of the paying guardians has both an email address or a phone number "
                    + "and a complete postal address.")
        ]
    }

    /// `emergency.missing`: a guardian or a trusted person is the emergency contact and has a phone
    /// number. The part is `guardians`, where the family most often fixes it.
    public static let emergencyMissing = CompletenessRule(code: "emergency.missing") { dossier, _ in
        let reachable =
            dossier.guardians.contains { $0.isEmergencyContact && !isBlank($0.phone) }
            || dossier.trustedPersons.contains { $0.isEmergencyContact && !isBlank($0.phone) }
        guard !reachable else { return [] }
        return [
            Finding(
                code: "emergency.missing", part: "guardians",
                messageFR: "Aucun contact d'urgence joignable par téléphone n'est indiqué "
                    + "(responsable légal ou tiers de confiance).",
                messageEN: "No emergency contact with a phone number is given (legal guardian or trusted person).")
        ]
    }

    /// `document.missing`: every document kind the structure requires is among the documents; one
    /// finding per missing kind, in kind order.
    public static let documentMissing = CompletenessRule(code: "document.missing") { dossier, policy in
        let present = Set(dossier.documents.map(\.kind))
        return policy.requiredDocumentKinds.subtracting(present).sorted().map { kind in
            let label = policy.documentLabels[kind] ?? kind
            return Finding(
                code: "document.missing", part: "documents.\(kind)",
                messageFR: "Justificatif manquant : \(label).",
                messageEN: "Missing supporting document: \(label).")
        }
    }

    /// `confirmation.missing`: the confirmation box is ticked and both the terms of use and the house
    /// rules are accepted; one finding listing whatever is missing, its part the first of them.
    public static let confirmationMissing = CompletenessRule(code: "confirmation.missing") { dossier, _ in
        var missing: [(part: String, fr: String, en: String)] = []
        if !dossier.confirmed {
            missing.append(("confirmed", "la case de confirmation n'est pas cochée", "the confirmation box is not ticked"))
        }
        if dossier.account.termsAcceptedAt == nil {
            missing.append(
                (
                    "account.terms_accepted_at", "les conditions générales d'utilisation ne sont pas acceptées",
                    "the terms of use are not accepted"
                ))
        }
        if dossier.account.houseRulesAcceptedAt == nil {
            missing.append(
                (
                    "account.house_rules_accepted_at", "le règlement intérieur n'est pas accepté",
                    "the house rules are not accepted"
                ))
        }
        guard let first = missing.first else { return [] }
        return [
            Finding(
                code: "confirmation.missing", part: first.part,
                messageFR: "Confirmation incomplète : \(missing.map(\.fr).joined(separator: " ; ")).",
                messageEN: "Confirmation incomplete: \(missing.map(\.en).joined(separator: "; ")).")
        ]
    }

    // MARK: - What the family does about a finding

    /// What the family must do on the portal about a finding of rule `code`, for the returned
    /// dossier's checklist; `nil` for an unknown code (an administrator's own reason says it all).
    public static func action(for code: String, in language: Language) -> String? {
        let actions: [String: (fr: String, en: String)] = [
            "children.none": (
                "Ajoutez au moins un enfant dans la rubrique Enfants.", "Add at least one child in the Children section."
            ),
            "child.incomplete": (
                "Corrigez la fiche de l'enfant dans la rubrique Enfants.", "Correct the child's details in the Children section."
            ),
            "payer.missing": (
                "Dans la rubrique Responsables, cochez « payeur » pour l'un des responsables légaux.",
                "In the Guardians section, tick \"payer\" for one of the legal guardians."
            ),
            "payer.contact": (
                "Complétez les coordonnées du responsable payeur : adresse postale, et e-mail ou téléphone.",
                "Complete the paying guardian's details: postal address, and email or phone."
            ),
            "emergency.missing": (
                "Indiquez un contact d'urgence avec son numéro de téléphone (responsable ou tiers de confiance).",
                "Name an emergency contact with a phone number (guardian or trusted person)."
            ),
            "document.missing": (
                "Déposez ce justificatif (photo ou PDF) dans la rubrique Justificatifs.",
                "Upload this document (photo or PDF) in the Documents section."
            ),
            "confirmation.missing": (
                "À la dernière étape, acceptez ce qui est demandé et cochez la case de confirmation avant d'envoyer.",
                "At the last step, accept what is asked and tick the confirmation box before sending."
            ),
        ]
        return actions[code].map { language == .fr ? $0.fr : $0.en }
    }

    // MARK: - Helpers

    /// Empty or only whitespace: a name of spaces is no name.
    static func isBlank(_ text: String?) -> Bool {
        text?.allSatisfy(\.isWhitespace) ?? true
    }

    /// What keeps a payer from being reachable, in French and English; empty when reachable.
    static func payerGaps(_ payer: Guardian) -> [(fr: String, en: String)] {
        var gaps: [(fr: String, en: String)] = []
        if isBlank(payer.email) && isBlank(payer.phone) {
            gaps.append(("aucune adresse e-mail ni aucun numéro de téléphone", "no email address or phone number"))
        }
        let address = payer.address
        let missing = [
            (isBlank(address?.line1), "l'adresse", "street address"),
            (isBlank(address?.postalCode), "le code postal", "postal code"),
            (isBlank(address?.city), "la ville", "city"),
        ].filter(\.0)
        if missing.count == 3 {
            gaps.append(("aucune adresse postale", "no postal address"))
        } else if !missing.isEmpty {
            gaps.append(
                (
                    "adresse postale incomplète, il manque \(missing.map(\.1).joined(separator: ", "))",
                    "incomplete postal address, missing \(missing.map(\.2).joined(separator: ", "))"
                ))
        }
        return gaps
    }

    /// `01/09/2026`, as French families read dates.
    static func frenchDate(_ date: CalendarDate) -> String {
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(pad(date.day))/\(pad(date.month))/\(date.year)"
    }
}
