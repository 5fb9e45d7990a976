import Dossiers
import Foundation
import Mail

/// What the benchmarks render: the project's templates and one family's email context (two
/// children, accents, a returned dossier's two reasons), shared so that the perf loop profiles
/// exactly what the benchmark measures.
public enum Samples {
    /// The repository's root, found from this file.
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The templates in `config/templates`.
    public static func templates() throws -> TemplateLibrary {
        try TemplateLibrary(directory: root.appendingPathComponent("config/templates").path)
    }

    /// The school year 2026-2027 the context's period covers.
    public static let periodStart = day("2026-09-01")
    public static let periodEnd = day("2027-07-03")

    public static let emailContext = EmailContext(
        language: .fr, dossierExternalID: "VLF-0001",
        account: Person(firstName: "Claire", lastName: "Martin", email: "claire.martin@example.org"),
        structure: StructureInfo(
            code: "villefranche", name: "Mairie de Villefranche — Service Enfance",
            portalURL: "https://portail-famille.example/villefranche", senderName: "Service Enfance",
            senderEmail: "enfance@villefranche.example", replyTo: nil, timeZone: "Europe/Paris"),
        outcome: .returned,
        reasons: [
            "Aucun responsable légal n'est désigné comme payeur.", "Pièce manquante : attestation d'assurance scolaire.",
        ],
        children: [
            ChildInfo(firstName: "Zoé", lastName: "Martin", services: ["Restauration scolaire", "Accueil du mercredi"]),
            ChildInfo(firstName: "Noé", lastName: "Martin", services: ["Restauration scolaire"]),
        ],
        period: PeriodInfo(label: "Année scolaire 2026-2027", startsOn: periodStart, endsOn: periodEnd))

    /// A fixed Date header, so that every rendering is the same.
    public static let date = Date(timeIntervalSince1970: 1_790_000_000)

    private static func day(_ iso: String) -> CalendarDate {
        guard let day = CalendarDate(iso: iso) else { fatalError("\(iso) is not a date") }
        return day
    }
}
