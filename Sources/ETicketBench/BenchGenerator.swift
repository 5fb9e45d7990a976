import BackOffice
import Foundation
import Mail
import SeededGenerator

/// Writes realistic synthetic intake: a structures file and dossiers as the portal exports them
/// (JSON Lines, `contracts/dossier.schema.json`).
///
/// Several structures with different policies (automatic and manual review, rights opened at
/// validation or on a past schedule, one or two required documents); families with one to four
/// children, one or two guardians, trusted persons, documents; French names with accents and
/// apostrophes. A share of the dossiers is incomplete in one or more ways (no payer, a missing
/// document, no emergency contact, the confirmation not ticked, an implausible birth date, no
/// child), so that the workers return them with their reasons.
struct BenchGenerator {
    struct StructureSpec {
        var code: String
        var name: String
        var postalCode: String
        var city: String
        var review: String
        var rightsOpening: String
        var required: [String]
        var optional: [String]
        var services: [String]
        /// Share of the dossiers this structure receives, out of 100.
        var weight: Int
    }

    static let structures: [StructureSpec] = [
        StructureSpec(
            code: "bench-villeurbanne", name: "Mairie de Villeurbanne — Service Enfance", postalCode: "69100",
            city: "Villeurbanne", review: "automatic", rightsOpening: "on_validation",
            required: ["assurance-scolaire"], optional: ["quotient-familial"],
            services: ["cantine", "garderie-matin", "mercredi"], weight: 40),
        StructureSpec(
            code: "bench-saint-etienne", name: "Ville de Saint-Étienne — Périscolaire", postalCode: "42000",
            city: "Saint-Étienne", review: "automatic", rightsOpening: "on_validation",
            required: ["assurance-scolaire", "quotient-familial"], optional: [],
            services: ["cantine", "garderie-soir"], weight: 30),
        StructureSpec(
            code: "bench-l-isle-d-abeau", name: "Association Les Écureuils de L'Isle-d'Abeau", postalCode: "38080",
            city: "L'Isle-d'Abeau", review: "automatic", rightsOpening: "scheduled",
            required: ["carnet-vaccination"], optional: [],
            services: ["centre-loisirs"], weight: 15),
        StructureSpec(
            code: "bench-chateauroux", name: "Mairie de Châteauroux — Enfance et Jeunesse", postalCode: "36000",
            city: "Châteauroux", review: "manual", rightsOpening: "manual",
            required: ["assurance-scolaire"], optional: ["carnet-vaccination"],
            services: ["cantine", "mercredi"], weight: 15),
    ]

    static let firstNames = [
        "Zoé", "Noé", "Léa", "Chloé", "Maël", "Anaïs", "Hélène", "Jérôme", "François", "Agnès", "Gaël", "Inès",
        "Clément", "Loïc", "Anne-Sophie", "Éloïse", "Benoît", "Célia", "Timothée", "Mathéo", "Amélie", "Raphaël",
        "Joël", "Aurélien", "Béatrice", "Cédric", "Maëlys", "Noémie", "Séverine", "Théo", "Yaël", "Zoë",
    ]
    static let lastNames = [
        "Martin", "Dubois", "Lefèvre", "N'Diaye", "O'Connor", "D'Almeida", "Le Goff", "Nguyễn", "Müller", "Béranger",
        "Châtelain", "Lemaître", "Dupré", "L'Hermite", "Ménard", "Garçon", "Da Silva", "Benoît-Lévêque", "Kowalczyk",
        "Ben Saïd", "Faure", "Rousseau", "De La Fontaine", "Mbappé", "Périer", "Œuvray",
    ]
    static let streets = [
        "rue des Écoles", "avenue Jean-Jaurès", "place de l'Église", "chemin du Moulin", "boulevard Émile-Zola",
        "impasse des Tilleuls", "rue de la Paix", "allée Françoise-Dolto",
    ]
    static let schools = [
        "École Jean Moulin", "École élémentaire Louise-Michel", "Groupe scolaire Les Érables", "École Sainte-Thérèse",
    ]
    static let grades = ["PS", "MS", "GS", "CP", "CE1", "CE2", "CM1", "CM2"]
    static let childNotes = [
        "Allergie à l'arachide", "Régime sans porc", "PAI asthme : ventoline dans le cartable",
        "Ne mange pas de \\\"fruits à coque\\\"", "Lunettes à porter en classe",
    ]
    static let relationships = ["mère", "père", "tuteur légal", "belle-mère"]
    static let trustedRelations = ["grand-mère", "grand-père", "tante", "oncle", "voisine", "assistante maternelle"]

    /// The school year the generated periods cover, chosen from today so that the birth dates stay
    /// plausible (0–18 years) at its start and the period has not ended.
    let periodStartYear: Int
    let incompleteShare: Double
    let prefix: String
    private var random: SeededRandom

    init(seed: UInt64, incompleteShare: Double, prefix: String, today: Date = Date()) {
        let components = Calendar(identifier: .gregorian).dateComponents(
            in: TimeZone(identifier: "Europe/Paris") ?? .current, from: today)
        let year = components.year ?? 2026
        periodStartYear = (components.month ?? 9) >= 7 ? year : year - 1
        self.incompleteShare = incompleteShare
        self.prefix = prefix
        self.random = SeededRandom(seed: seed)
    }

    /// The structures file (`contracts/structures.schema.json`) of ``structures``.
    func structuresJSON() -> String {
        let start = "\(periodStartYear)-09-01"
        let end = "\(periodStartYear + 1)-07-04"
        let entries = Self.structures.map { spec -> String in
            let documents = (spec.required.map { ($0, true) } + spec.optional.map { ($0, false) }).map {
                #"{"kind": "\#($0.0)", "label": "Justificatif \#($0.0)", "required": \#($0.1)}"#
            }
            let services = spec.services.map { #"{"code": "\#($0)", "label": "Service \#($0)", "weekdays": [1, 2, 4, 5]}"# }
            let opens =
                spec.rightsOpening == "scheduled" ? #", "planning_opens_at": "\#(periodStartYear)-06-01T09:00:00+02:00""# : ""
            return """
                {"code": "\(spec.code)", "name": "\(spec.name)", "postal_codes": ["\(spec.postalCode)"],
                 "registration_code": "\(spec.code.uppercased())", "timezone": "Europe/Paris", "locale": "fr",
                 "sender": {"name": "\(spec.name)", "email": "enfance@\(spec.code).example"},
                 "review": "\(spec.review)", "rights_opening": "\(spec.rightsOpening)",
                 "documents": [\(documents.joined(separator: ", "))],
                 "services": [\(services.joined(separator: ", "))],
                 "periods": [{"code": "\(periodStartYear)-\(periodStartYear + 1)", "label": "Année scolaire \(periodStartYear)-\(periodStartYear + 1)",
                              "starts_on": "\(start)", "ends_on": "\(end)"\(opens)}]}
                """
        }
        return "{\"structures\": [\n" + entries.joined(separator: ",\n") + "\n]}\n"
    }

    /// Writes `count` dossier lines to `path`, numbered from `first`.
    ///
    /// - Returns: how many of them were generated incomplete.
    mutating func writeDossiers(count: Int, first: Int = 0, to path: String) throws -> Int {
        let handle = FileHandle(fileDescriptor: try Self.open(path), closeOnDealloc: true)
        defer { try? handle.close() }
        var incomplete = 0
        var buffer = ""
        buffer.reserveCapacity(1 << 20)
        for index in first..<(first + count) {
            let (line, isIncomplete) = dossierLine(index)
            if isIncomplete { incomplete += 1 }
            buffer += line
            buffer += "\n"
            if buffer.utf8.count > (1 << 20) - 8192 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: Data(buffer.utf8))
        return incomplete
    }

    /// Opens `path` for writing from its start, through a ``SafeDirectory`` (no link followed,
    /// only this user's regular file, mode 0600).
    static func open(_ path: String) throws -> Int32 {
        do {
            let (directory, name) = try SafeDirectory.containing(path, create: false)
            return try directory.openFile(name, truncate: true)
        } catch {
            throw BackOfficeError(.failure, "cannot create the generated file: \(error)", underlying: error)
        }
    }

    /// Writes `text` to `path` (see ``open(_:)``).
    static func save(_ text: String, to path: String) throws {
        let handle = FileHandle(fileDescriptor: try open(path), closeOnDealloc: true)
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Four pairs of digits, as French phone numbers are written.
    private mutating func phone() -> String {
        "\(pad2(random.below(100))) \(pad2(random.below(100))) \(pad2(random.below(100))) \(pad2(random.below(100)))"
    }

    private enum Defect: CaseIterable {
        case noPayer, missingDocument, noEmergency, notConfirmed, implausibleBirthDate, noChild
    }

    /// One dossier line, and whether it was made incomplete.
    mutating func dossierLine(_ index: Int) -> (String, Bool) {
        var roll = random.below(100)
        var spec = Self.structures[0]
        for candidate in Self.structures {
            if roll < candidate.weight {
                spec = candidate
                break
            }
            roll -= candidate.weight
        }
        var defects: Set<Defect> = []
        if random.chance(incompleteShare) {
            defects.insert(random.pick(Defect.allCases))
            if random.chance(0.25) { defects.insert(random.pick(Defect.allCases)) }
        }
        let family = random.pick(Self.lastNames)
        let parent = random.pick(Self.firstNames)
        let email = "famille.\(index)@exemple.fr"
        let day = 1 + random.below(28)
        let month = 5 + random.below(3)
        let date = "\(periodStartYear)-\(pad2(month))-\(pad2(day))"
        let submitted = "\(date)T\(pad2(7 + random.below(15))):\(pad2(random.below(60))):\(pad2(random.below(60)))+02:00"
        let accepted = "\(date)T08:00:00+02:00"

        var children: [String] = []
        if !defects.contains(.noChild) {
            for position in 0..<(1 + random.below(4)) {
                let age = defects.contains(.implausibleBirthDate) && position == 0 ? 24 : 3 + random.below(9)
                let birth = "\(periodStartYear - age)-\(pad2(1 + random.below(12)))-\(pad2(1 + random.below(28)))"
                var child =
                    #"{"first_name": "\#(random.pick(Self.firstNames))", "last_name": "\#(family)", "birth_date": "\#(birth)""#
                if random.chance(0.8) {
                    child += #", "school": "\#(random.pick(Self.schools))", "grade": "\#(random.pick(Self.grades))""#
                }
                if random.chance(0.5) {
                    child += #", "services": ["\#(spec.services[random.below(spec.services.count)])"]"#
                }
                if random.chance(0.15) { child += #", "notes": "\#(random.pick(Self.childNotes))""# }
                children.append(child + "}")
            }
        }

        var guardians: [String] = []
        let guardianCount = 1 + random.below(2)
        for position in 0..<guardianCount {
            let first = position == 0 ? parent : random.pick(Self.firstNames)
            var guardian =
                #"{"first_name": "\#(first)", "last_name": "\#(family)", "relationship": "\#(random.pick(Self.relationships))""#
            let reachable = position == 0 || random.chance(0.7)
            if reachable {
                let address = position == 0 ? email : "parent\(position).\(index)@exemple.fr"
                guardian += #", "email": "\#(address)""#
            }
            let hasPhone = !(defects.contains(.noEmergency))
            if hasPhone {
                guardian += #", "phone": "+33 6 \#(phone())""#
            }
            guardian +=
                #", "address": {"line1": "\#(1 + random.below(120)) \#(random.pick(Self.streets))", "postal_code": "\#(spec.postalCode)", "city": "\#(spec.city)"}"#
            let payer = position == 0 && !defects.contains(.noPayer)
            let emergency = position == 0 && hasPhone
            guardian += #", "payer": \#(payer), "emergency_contact": \#(emergency)}"#
            guardians.append(guardian)
        }

        var trusted: [String] = []
        for _ in 0..<random.below(3) {
            let phone = defects.contains(.noEmergency) ? "" : #", "phone": "04 \#(self.phone())""#
            trusted.append(
                #"{"first_name": "\#(random.pick(Self.firstNames))", "last_name": "\#(random.pick(Self.lastNames))", "relationship": "\#(random.pick(Self.trustedRelations))"\#(phone), "can_pick_up": \#(random.chance(0.8))}"#
            )
        }

        var kinds = spec.required + spec.optional.filter { _ in random.chance(0.5) }
        if defects.contains(.missingDocument), !kinds.isEmpty { kinds.remove(at: random.below(spec.required.count)) }
        let documents = kinds.map { kind -> String in
            var hash = ""
            hash.reserveCapacity(64)
            for _ in 0..<4 { hash += String(random.next(), radix: 16).leftPadded(to: 16) }
            let pdf = random.chance(0.7)
            return
                #"{"kind": "\#(kind)", "filename": "\#(kind)-\#(index).\#(pdf ? "pdf" : "jpg")", "media_type": "\#(pdf ? "application/pdf" : "image/jpeg")", "size": \#(20_000 + random.below(2_000_000)), "sha256": "\#(hash)"}"#
        }

        let confirmed = !defects.contains(.notConfirmed)
        var line = #"{"external_id": "\#(prefix)-\#(index)", "structure": "\#(spec.code)", "#
        line += #""account": {"email": "\#(email)", "first_name": "\#(parent)", "last_name": "\#(family)""#
        if confirmed { line += #", "terms_accepted_at": "\#(accepted)", "house_rules_accepted_at": "\#(accepted)""# }
        line +=
            #"}, "submitted_at": "\#(submitted)", "confirmed": \#(confirmed), "locale": "\#(random.chance(0.9) ? "fr" : "en")", "#
        line += #""children": [\#(children.joined(separator: ", "))], "guardians": [\#(guardians.joined(separator: ", "))], "#
        line +=
            #""trusted_persons": [\#(trusted.joined(separator: ", "))], "documents": [\#(documents.joined(separator: ", "))]}"#
        return (line, !defects.isEmpty)
    }
}

private func pad2(_ number: Int) -> String {
    number < 10 ? "0\(number)" : "\(number)"
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
