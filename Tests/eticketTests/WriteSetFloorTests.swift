import Foundation
import TestSupport
import Testing

/// `Benchmarks/WriteSetFloor/run.sh` replays in bare tables what the product wrote, reading
/// eticket's tables by name and column: a schema change that breaks it fails here rather than in
/// the next measurement. Its rates are printed, not asserted (speed lives in benchmarks).
@Suite(.tags(.bench)) struct WriteSetFloorTests {
    static let script = CLI.root.appendingPathComponent("Benchmarks/WriteSetFloor/run.sh").path

    @Test func everyMeasurementMovesTheWholeRun() throws {
        let result = try Child([Self.script, "4000", "1"], environment: ["ETICKET": CLI.binary], executable: "/bin/bash")
            .wait(timeout: 600)
        try #require(result.status == 0, "run.sh exited \(result.status): \(result.stderr.suffix(2000))")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        for measurement in [
            "loop", "write-set", "write-set-audited", "write-set-narrow", "import: bare-lines", "import: dossier-and-queue",
            "import: children-as-rows",
        ] {
            let line = lines.first { $0.hasPrefix(measurement + " ") }
            let fields = line?.dropFirst(measurement.count).split(separator: " ") ?? []
            // "<rate> /s <WAL bytes> B <server CPU> ms". The script itself fails when a replay leaves
            // a row behind or misses a decision, an email, a right or a part row.
            let measured =
                fields.count == 6 && (Int(fields[0]) ?? 0) > 0 && (Int(fields[2]) ?? 0) > 0 && (Double(fields[4]) ?? 0) > 0
            #expect(measured, "\(measurement): \(line ?? "missing")")
        }
        #expect(lines.contains { $0.hasPrefix("process ") && $0.hasSuffix("(eticket bench)") }, "\(result.stdout)")
    }

    @Test(arguments: [
        (["5000"], "DOSSIERS must be a positive multiple of 4,000 (two connections, batches of 2,000), not '5000'"),
        (["0"], "DOSSIERS must be a positive multiple of 4,000"),
        (["4000", "none"], "ROUNDS must be a positive number, not 'none'"),
    ])
    func badArgumentsAreRefusedBeforeAnythingStarts(_ arguments: [String], reason: String) throws {
        let result = try Child([Self.script] + arguments, environment: ["ETICKET": CLI.binary], executable: "/bin/bash")
            .wait(timeout: 30)
        #expect(result.status == 1)
        #expect(result.stderr.contains(reason), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }
}
