import Foundation
import TestSupport
import Testing

/// What an administrator reads from `eticket`: the structure's labels beside the codes, counts in
/// agreement with their nouns, times in the structure's time zone.
@Suite("eticket output: labels, plurals, time zones", .tags(.e2e))
struct FamilyFacingOutputTests {
    /// The year of the run: the fixture's period is next school year, its child eight then, so that
    /// nothing here depends on the day the suite runs.
    static let year = Calendar(identifier: .gregorian).component(.year, from: Date())

    /// One structure (Europe/Paris, automatic review, rights opened by hand) whose codes differ from
    /// its labels.
    static let structures = """
        {"structures": [{
          "code": "ecole", "name": "École des Tilleuls", "postal_codes": ["69400"], "registration_code": "ECOLE-1",
          "timezone": "Europe/Paris", "locale": "fr",
          "sender": {"name": "École des Tilleuls", "email": "ecole@tilleuls.example"},
          "review": "automatic", "rights_opening": "manual",
          "documents": [{"kind": "assurance-scolaire", "label": "Attestation d'assurance scolaire", "required": true}],
          "services": [
            {"code": "cantine", "label": "Restauration scolaire", "weekdays": [1, 2, 4, 5]},
            {"code": "mercredi", "label": "Accueil du mercredi", "weekdays": [3]}
          ],
          "periods": [{"code": "annee", "label": "Année scolaire \(year + 1)-\(year + 2)",
                       "starts_on": "\(year + 1)-09-01", "ends_on": "\(year + 2)-07-03"}]
        }]}
        """

    /// VLF-0001 of the examples moved to `ecole` as `externalID`, with one child; without its
    /// document when `withDocument` is false.
    static func line(_ externalID: String, withDocument: Bool = true) throws -> String {
        let text = try String(contentsOfFile: "\(CLI.examples)/dossiers.jsonl", encoding: .utf8)
        var line = try #require(text.split(separator: "\n").first.map(String.init))
        let edits = [
            (#""external_id": "VLF-0001""#, #""external_id": "\#(externalID)""#),
            (#""structure": "villefranche""#, #""structure": "ecole""#),
            (#""submitted_at": "2026-08-21T19:04:11+02:00""#, #""submitted_at": "\#(year - 1)-10-01T10:00:00+02:00""#),
            (#""birth_date": "2018-03-14""#, #""birth_date": "\#(year - 7)-03-14""#),
            (
                #", {"first_name": "Noé", "last_name": "Martin", "birth_date": "2021-11-02", "school": "École Jean Moulin", "grade": "PS"}"#,
                ""
            ),
        ]
        for (old, new) in edits {
            try #require(line.contains(old), "the example line no longer holds \(old)")
            line = line.replacingOccurrences(of: old, with: new)
        }
        if !withDocument {
            let documents = try #require(line.range(of: #""documents": ["#))
            line = String(line[..<documents.lowerBound]) + #""documents": []}"#
        }
        return line
    }

    private func file(_ text: String, _ name: String) throws -> String {
        let directory = TestFiles.directory.appendingPathComponent("eticket-labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func database() throws -> String {
        let conninfo = try TestDatabases.shared().create()
        try CLI.succeed(["db", "migrate"], database: conninfo)
        try CLI.succeed(["structures", "apply", try file(Self.structures, "structures.json")], database: conninfo)
        return conninfo
    }

    @Test func countsAgreeWithTheirNouns() throws {
        let conninfo = try database()
        let first = try CLI.succeed(["dossiers", "import", try file(try Self.line("ECO-0001"), "one.jsonl")], database: conninfo)
        #expect(first.stdout == "1 line: 1 new, 0 resubmitted, 0 rejected\n")
        try CLI.succeed(["worker", "--once"], database: conninfo)
        let opened = try CLI.succeed(["rights", "open", "--structure", "ecole", "--period", "annee"], database: conninfo)
        #expect(
            opened.stdout == """
                ecole, Année scolaire \(Self.year + 1)-\(Self.year + 2) (annee): 1 child in 1 family gained reservation \
                rights (1 validated dossier); 1 planning-open email queued

                """)

        let two = [try Self.line("ECO-0002", withDocument: false), try Self.line("ECO-0003")].joined(separator: "\n")
        let second = try CLI.succeed(["dossiers", "import", try file(two, "two.jsonl")], database: conninfo)
        #expect(second.stdout == "2 lines: 2 new, 0 resubmitted, 0 rejected\n")
        try CLI.succeed(["worker", "--once"], database: conninfo)

        // Four emails: ECO-0001's two, one for each of the others.
        let maildir = TestFiles.directory.appendingPathComponent("eticket-labels-\(UUID().uuidString)").path
        let one = try CLI.succeed(
            ["outbox", "export", "--format", "maildir", "--to", maildir, "--limit", "1"], database: conninfo)
        #expect(one.stdout.hasPrefix("1 message exported to "), "\(one.stdout)")
        let rest = try CLI.succeed(["outbox", "export", "--format", "maildir", "--to", maildir], database: conninfo)
        #expect(rest.stdout.hasPrefix("3 messages exported to "), "\(rest.stdout)")

        let decided = try CLI.succeed(
            ["decide", "ECO-0003", "return", "--reason", "photo illisible", "--by", "bob"], database: conninfo)
        #expect(decided.stdout.contains("\n1 dossier decided by admin:bob\n"), "\(decided.stdout)")
        #expect(decided.stdout.hasSuffix("\n1 email queued in the outbox\n"), "\(decided.stdout)")
    }

    @Test func aScheduledOpeningIsShownInTheStructuresTimeZone() throws {
        let conninfo = try database()
        try CLI.succeed(["dossiers", "import", try file(try Self.line("ECO-0001"), "one.jsonl")], database: conninfo)
        try CLI.succeed(["worker", "--once"], database: conninfo)
        let scheduled = try CLI.succeed(
            ["rights", "open", "--structure", "ecole", "--period", "annee", "--at", "\(Self.year + 1)-01-15T08:00:00Z"],
            database: conninfo)
        #expect(
            scheduled.stdout == """
                ecole, Année scolaire \(Self.year + 1)-\(Self.year + 2) (annee): opening scheduled at \
                \(Self.year + 1)-01-15 09:00 +01:00 (Europe/Paris) for 1 of 1 validated dossier

                """)
    }

    /// `--at` without an offset is the structure's local time, whatever zone the machine is in; a
    /// time the structure's clocks skip or pass twice is refused, since no one instant was meant.
    @Test func aLocalOpeningTimeIsTheStructuresAndMustExistThere() throws {
        let conninfo = try database()
        try CLI.succeed(["dossiers", "import", try file(try Self.line("ECO-0001"), "one.jsonl")], database: conninfo)
        try CLI.succeed(["worker", "--once"], database: conninfo)
        func open(at: String) throws -> CLI.Result {
            let child = try Child(
                ["rights", "open", "--structure", "ecole", "--period", "annee", "--at", at, "--database-url", conninfo],
                environment: ["TZ": "America/New_York"])
            defer { child.kill() }
            return child.wait(timeout: 120)
        }
        let year = Self.year + 1
        let forward = try open(at: "\(year)-03-\(Self.lastSunday(of: 3, in: year)) 02:30")
        #expect(forward.status == 2)
        #expect(forward.stderr.contains("no such time in Europe/Paris that day"), "\(forward.stderr)")
        let back = try open(at: "\(year)-10-\(Self.lastSunday(of: 10, in: year)) 02:30")
        #expect(back.status == 2)
        #expect(back.stderr.contains("comes twice in Europe/Paris"), "\(back.stderr)")
        let local = try open(at: "\(year)-01-15 09:00")
        #expect(local.status == 0, "\(local.stderr)")
        #expect(local.stdout.contains("opening scheduled at \(year)-01-15 09:00 +01:00 (Europe/Paris)"), "\(local.stdout)")
    }

    /// The day of the month of its last Sunday, when Europe's clocks change.
    static func lastSunday(of month: Int, in year: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let last = calendar.date(from: DateComponents(year: year, month: month + 1, day: 0))!
        let weekday = calendar.component(.weekday, from: last) // 1 = Sunday
        return calendar.component(.day, from: last) - (weekday - 1)
    }

    @Test func dossierShowNamesDocumentsServicesAndPeriodsByTheirLabels() throws {
        let conninfo = try database()
        let lines = [try Self.line("ECO-0001"), try Self.line("ECO-0002", withDocument: false)].joined(separator: "\n")
        try CLI.succeed(["dossiers", "import", try file(lines, "two.jsonl")], database: conninfo)
        try CLI.succeed(["worker", "--once"], database: conninfo)
        try CLI.succeed(["rights", "open", "--structure", "ecole", "--period", "annee"], database: conninfo)

        let complete = try CLI.succeed(["dossier", "show", "ECO-0001"], database: conninfo).stdout
        #expect(complete.contains("  required  Attestation d'assurance scolaire (assurance-scolaire)\n"), "\(complete)")
        #expect(complete.contains("services: cantine = Restauration scolaire, mercredi = Accueil du mercredi"))
        #expect(
            complete.contains(
                "  Année scolaire \(Self.year + 1)-\(Self.year + 2) (annee)\n    1 Zoé: Restauration scolaire (cantine)\n"))
        #expect(complete.split(separator: "\n").allSatisfy { $0.count <= 80 })

        let returned = try CLI.succeed(["dossier", "show", "ECO-0002"], database: conninfo).stdout
        #expect(
            returned.contains("  required  Attestation d'assurance scolaire (assurance-scolaire) — MISSING\n"), "\(returned)")
        // The finding as the family reads it (the dossier is in French), under its code.
        #expect(returned.contains("  document.missing (documents.assurance-scolaire)\n"))
        #expect(returned.contains("      Justificatif manquant : Attestation d'assurance scolaire.\n"))
        #expect(returned.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }

    @Test func dossierShowPrintsTimesInTheStructuresTimeZone() throws {
        let conninfo = try TestDatabases.shared().create()
        try CLI.succeed(["db", "migrate"], database: conninfo)
        try CLI.succeed(["structures", "apply", "\(CLI.examples)/structures.json"], database: conninfo)
        try CLI.succeed(["dossiers", "import", "\(CLI.examples)/dossiers.jsonl"], database: conninfo)
        // Submitted 2026-12-01T20:12:00+01:00 to a structure in Europe/Paris (winter: +01:00), and
        // VLF-0001 on 2026-08-21T19:04:11+02:00 (summer).
        let winter = try CLI.succeed(["dossier", "show", "PTL-0001"], database: conninfo).stdout
        #expect(winter.contains("Submitted   2026-12-01 20:12 +01:00, locale en\n"), "\(winter)")
        #expect(winter.contains("Times       in Europe/Paris\n"))
        let summer = try CLI.succeed(["dossier", "show", "VLF-0001"], database: conninfo).stdout
        #expect(summer.contains("Submitted   2026-08-21 19:04 +02:00, locale fr\n"), "\(summer)")
        #expect(!summer.contains("UTC"))
    }
}
