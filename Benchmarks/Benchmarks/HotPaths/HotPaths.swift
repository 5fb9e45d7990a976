import Benchmark
import Dossiers
import Foundation
import Mail
import Samples

/// The pure hot paths of a worker's batch, one dossier at a time: the contract decode of the stored
/// line, the completeness rules, and the email's rendering and MIME composition.
/// Run from Benchmarks/: `swift package benchmark` (ops/s, wall clock, mallocs per op).

/// A typical dossier: two children, one guardian, one trusted person, one document, accents.
let line = Array(
    #"{"external_id": "VLF-0001", "structure": "villefranche", "account": {"email": "claire.martin@example.org", "first_name": "Claire", "last_name": "Martin", "terms_accepted_at": "2026-08-20T18:01:00+02:00", "house_rules_accepted_at": "2026-08-20T18:01:00+02:00"}, "submitted_at": "2026-08-21T19:04:11+02:00", "confirmed": true, "locale": "fr", "children": [{"first_name": "Zoé", "last_name": "Martin", "birth_date": "2018-03-14", "school": "École Jean Moulin", "grade": "CE2", "services": ["cantine", "mercredi"], "notes": "Allergie à l'arachide"}, {"first_name": "Noé", "last_name": "Martin", "birth_date": "2021-11-02", "school": "École Jean Moulin", "grade": "PS"}], "guardians": [{"first_name": "Claire", "last_name": "Martin", "relationship": "mère", "email": "claire.martin@example.org", "phone": "+33 6 12 34 56 78", "address": {"line1": "12 rue des Écoles", "postal_code": "69400", "city": "Villefranche-sur-Saône"}, "payer": true, "emergency_contact": true}], "trusted_persons": [{"first_name": "Hélène", "last_name": "Dubois", "relationship": "grand-mère", "phone": "04 74 00 00 00", "can_pick_up": true}], "documents": [{"kind": "assurance-scolaire", "filename": "assurance-2026.pdf", "media_type": "application/pdf", "size": 182734, "sha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}"#
        .utf8)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .peakMemoryResident],
        maxDuration: .seconds(3), maxIterations: 100_000)

    guard case .success(let dossier) = DossierContract.decode(line: line) else {
        fatalError("the benchmark's dossier no longer decodes")
    }

    Benchmark("DossierContract.decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(DossierContract.decode(line: line))
        }
    }

    let policy = StructurePolicy(
        review: .automatic, requiredDocumentKinds: ["assurance-scolaire", "quotient-familial"],
        ageReferenceDate: Samples.periodStart)
    Benchmark("CompletenessRules.findings") { benchmark in
        for _ in benchmark.scaledIterations {
            let findings = CompletenessRules.findings(for: dossier, policy: policy)
            blackHole(CompletenessRules.outcome(for: findings, review: policy.review))
        }
    }

    let library: TemplateLibrary
    do {
        library = try Samples.templates()
    } catch {
        fatalError("cannot load the templates: \(error)")
    }
    let context = Samples.emailContext
    let date = Samples.date
    Benchmark("TemplateLibrary.render dossier-processed") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(
                try library.render(.dossierProcessed, context: context, messageID: "bench.1@villefranche.example", date: date))
        }
    }
    Benchmark("TemplateLibrary.render planning-open") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try library.render(.planningOpen, context: context, messageID: "bench.2@villefranche.example", date: date))
        }
    }
}
