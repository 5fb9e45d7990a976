import Dossiers
import Foundation
import Mail

// A plain loop over TemplateLibrary.render, both kinds in turn, to profile with perf (the benchmark
// runner needs its host process):
//   swift build -c release --product RenderLoop
//   perf record -e cpu-clock -g .build/release/RenderLoop 100000 && perf report --no-children
// Prints the bytes written (so nothing is optimized away) and the time per email.

let root = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
guard let periodStart = CalendarDate(iso: "2026-09-01"), let periodEnd = CalendarDate(iso: "2027-07-03") else {
    fatalError("bad period dates")
}
let library = try TemplateLibrary(directory: root.appendingPathComponent("config/templates").path)
// The context of the HotPaths benchmark.
let context = EmailContext(
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
let date = Date(timeIntervalSince1970: 1_790_000_000)
let count = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000

let clock = ContinuousClock()
let start = clock.now
var written = 0
for index in 0..<count {
    let kind: EmailKind = index % 2 == 0 ? .dossierProcessed : .planningOpen
    let email = try library.render(kind, context: context, messageID: "bench.1@villefranche.example", date: date)
    written &+= email.bytes.count
}
print("\(written) bytes, \((clock.now - start) / count) per email")
