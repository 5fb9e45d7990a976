import Dossiers
import Foundation
import Mail
import TestSupport

/// Paths and sample values shared by the Mail tests.
enum Fixtures {
    /// `config/templates` of this checkout, found from this file's path.
    static let templatesDirectory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/templates").path
    }()

    static let structure = StructureInfo(
        code: "VLF", name: "Ville de Lafayette – Enfance", portalURL: "https://portail.lafayette.example/famille",
        senderName: "Service Enfance de Lafayette", senderEmail: "enfance@lafayette.example",
        replyTo: "contact@lafayette.example", timeZone: "Europe/Paris")

    static func context(
        language: Language = .fr, outcome: Outcome? = .validated, firstName: String = "Zoé",
        lastName: String = "Martin", reasons: [String] = [], children: [ChildInfo]? = nil,
        services: [String] = [], period: PeriodInfo? = nil, structure: StructureInfo = structure
    ) -> EmailContext {
        EmailContext(
            language: language, dossierExternalID: "VLF-0001",
            account: Person(firstName: firstName, lastName: lastName, email: "zoe.martin@example.org"),
            structure: structure, outcome: outcome, reasons: reasons,
            children: children ?? [
                ChildInfo(firstName: "Léa", lastName: "Martin", services: ["Cantine", "Accueil du matin"]),
                ChildInfo(firstName: "Tom", lastName: "Martin", services: ["Cantine"]),
            ], services: services, period: period)
    }

    static let period = PeriodInfo(
        label: "Année scolaire 2026–2027", startsOn: CalendarDate(year: 2026, month: 9, day: 1)!,
        endsOn: CalendarDate(year: 2027, month: 7, day: 3)!)

    /// 2026-11-28 04:04:11 UTC, 05:04:11 in Paris.
    static let date = Date(timeIntervalSince1970: 1_795_838_651)

    static func library() throws -> TemplateLibrary {
        try TemplateLibrary(directory: templatesDirectory)
    }

    /// A fresh empty directory under the system's temporary directory.
    static func temporaryDirectory(_ label: String = #function) throws -> String {
        let path = TestFiles.directory.path + "/eticket-mail-\(label.filter(\.isLetter))-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
