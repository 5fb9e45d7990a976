import Foundation
import TestSupport
import Testing

/// The administrator's commands run as the built `eticket`, against a real database holding the
/// examples imported and decided by `eticket worker --once`.
@Suite("eticket queue, dossier, planning, reservations", .tags(.e2e))
struct AdminCommandsTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// `.build/<config>/eticket`, beside the test bundle.
    static let executable: URL = {
        var directory = Bundle.main.bundleURL
        while directory.path != "/" && !FileManager.default.fileExists(atPath: directory.appendingPathComponent("eticket").path) {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("eticket")
    }()

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    private func run(_ arguments: [String], _ conninfo: String) throws -> Run {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.currentDirectoryURL = Self.root
        var environment = ProcessInfo.processInfo.environment
        environment["ETICKET_DATABASE_URL"] = conninfo
        environment["ETICKET_LOG_LEVEL"] = "error"
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    private func decidedExamples() throws -> String {
        let conninfo = try TestDatabases.shared().create()
        try TestDatabases.pinDecisionClock(conninfo, at: Databases.storyInstant)
        for arguments in [
            ["db", "migrate"], ["structures", "apply", "config/examples/structures.json"],
            ["dossiers", "import", "config/examples/dossiers.jsonl"], ["worker", "--once"],
        ] {
            let result = try run(arguments, conninfo)
            try #require(result.status == 0, "eticket \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return conninfo
    }

    @Test func theQueueAndADossierAsAnAdministratorSeesThem() throws {
        let conninfo = try decidedExamples()
        let list = try run(["queue", "list"], conninfo)
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n")
        // Columns by their separators, not their widths: AGE is counted from the server's clock,
        // so its width changes with the day the suite runs.
        let cells = lines.map {
            $0.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        #expect(cells.first == ["DOSSIER", "FAMILY", "CHILDREN", "SUBMITTED", "AGE", "STATE", "TRIES"])
        #expect(cells.count == 2 && Array(cells[1].prefix(4)) == ["PTL-0001", "O'Connor", "Aoife", "2026-12-01"])
        #expect(cells.count == 2 && cells[1].count == 7 && cells[1][4].wholeMatch(of: /[0-9]+[dhms]([0-9]+[hms])?/) != nil)
        #expect(lines.allSatisfy { $0.count <= 80 })

        let json = try run(["queue", "list", "--state", "returned,planning_open", "--format", "json"], conninfo)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(entries.compactMap { $0["external_id"] as? String } == ["VLF-0001", "VLF-0002", "VLF-0003"])
        #expect(entries.first?["children"] as? [String] == ["Zoé", "Noé"])

        let bad = try run(["queue", "list", "--state", "sleeping"], conninfo)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--state sleeping: expected one of"))

        let show = try run(["dossier", "show", "VLF-0002"], conninfo)
        #expect(show.status == 0)
        #expect(show.stdout.contains("Dossier VLF-0002"))
        #expect(show.stdout.contains("payer.missing"))
        #expect(show.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 })
        let missing = try run(["dossier", "show", "VLF-9999"], conninfo)
        #expect(missing.status == 3) // an unknown name is bad input
        #expect(missing.stderr == "eticket: no dossier VLF-9999\n")

        let retry = try run(["queue", "retry", "VLF-0002"], conninfo)
        #expect(retry.status == 1)
        #expect(retry.stderr.contains("has no failed queue item"))
        #expect(try run(["queue", "retry", "--all-failed"], conninfo).stdout == "0 failed items re-queued\n")
    }

    @Test func statsInThePrometheusFormat() throws {
        let conninfo = try decidedExamples()
        let stats = try run(["queue", "stats", "--format", "prometheus"], conninfo)
        #expect(stats.status == 0)
        let lines = stats.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains(#"eticket_dossiers{structure="villefranche",state="returned"} 2"#))
        #expect(lines.contains(#"eticket_outbox_pending{structure="villefranche"} 4"#))
        #expect(lines.filter { $0 == "# TYPE eticket_queue_failed gauge" }.count == 1)
        let table = try run(["queue", "stats"], conninfo)
        #expect(table.stdout.contains("villefranche  0    0    0    2    0    1     0     -       0     4"))
    }

    @Test func reservationsThroughTheGateAndThePlanningThatShowsThem() throws {
        let conninfo = try decidedExamples()
        let add = try run(
            [
                "reservations", "add", "--child", "VLF-0001/1", "--service", "cantine", "--date", "2026-12-24", "--date",
                "2026-12-01",
            ],
            conninfo)
        #expect(add.status == 0)
        #expect(add.stdout == "Restauration scolaire (cantine) reserved for Zoé (VLF-0001): 2026-12-01, 2026-12-24\n")
        let closed = try run(
            ["reservations", "add", "--child", "VLF-0001/1", "--service", "cantine", "--date", "2026-12-25"], conninfo)
        #expect(closed.status == 1)
        #expect(closed.stderr.hasSuffix("2026-12-25 is a closed date of the period 2026-2027\n"))
        let notReserved = try run(
            ["reservations", "remove", "--child", "VLF-0001/1", "--service", "cantine", "--date", "2026-12-03"], conninfo)
        #expect(notReserved.status == 1)
        #expect(notReserved.stderr.contains("no reservation of cantine"))

        let planning = try run(["planning", "show", "--child", "VLF-0001/1", "--month", "2026-12"], conninfo)
        #expect(planning.status == 0)
        let lines = planning.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let cantine = try #require(lines.firstIndex { $0.hasPrefix("cantine — ") })
        #expect(lines[cantine + 1] == "  Mon  Tue  Wed  Thu  Fri  Sat  Sun")
        #expect(lines[cantine + 2] == "        1●   2-   3○   4○   5-   6-")
        #expect(lines[cantine + 5] == "  21○  22○  23-  24●  25✕  26-  27-")
        #expect(lines.contains("garderie-matin — Accueil périscolaire du matin (no rights)"))
        #expect(lines.allSatisfy { $0.count <= 80 })
    }
}
