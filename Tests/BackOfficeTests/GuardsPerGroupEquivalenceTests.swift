import BackOffice
import Dossiers
import Foundation
import Postgres
import Testing

@testable import BackOffice

/// Migration 034 against the guards it replaced: the same statements, each with one bad row among good ones of its
/// group, run against 034's guards and against the definitions they replaced (030, 031, 022),
/// are refused with the same SQLSTATE, and the good ones accepted by both.
@Suite("034's guards refuse what the replaced ones refused")
struct GuardsPerGroupEquivalenceTests {
    /// `CREATE OR REPLACE` of the function `name` as `file` of sql/ defines it.
    static func definition(_ file: String, _ name: String) throws -> String {
        let text = try String(contentsOfFile: "\(Fixture.sql)/\(file)", encoding: .utf8)
        let head = try #require(text.range(of: "FUNCTION \(name)()"))
        let end = try #require(text.range(of: "\n$$;", range: head.upperBound..<text.endIndex))
        return "CREATE OR REPLACE " + text[head.lowerBound..<end.upperBound] + "\n"
    }

    static let guards = ["child_period_rights_fit_their_dossiers", "email_outbox_caused_here", "dossier_status_recorded"]
    static func replaced() throws -> String {
        try definition("030_rights_per_child_and_period.sql", guards[0]) + definition("031_cheaper_checks.sql", guards[1])
            + definition("022_validated_with_planning_in_one_move.sql", guards[2])
    }
    static func current() throws -> String {
        try guards.map { try definition("034_guards_checked_per_group.sql", $0) }.joined()
    }

    @Test func theSameStatementsAreRefusedWithTheSameSQLSTATE() throws {
        let conninfo = try Fixture.decidedExamples()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        let role = try AuditTruthTests.login("eticket_worker", on: conninfo)
        let worker = try Fixture.connection("\(conninfo) user=\(role)", actor: "worker:test:1")
        defer { worker.close() }
        func id(_ sql: String) throws -> Int64 {
            guard let value = try owner.scalar(sql, as: Int64.self) else {
                throw PostgresError(code: .client, message: "no row: \(sql)")
            }
            return value
        }
        let d1 = try id("SELECT id FROM dossiers WHERE external_id = 'VLF-0001'") // planning_open
        let d2 = try id("SELECT id FROM dossiers WHERE external_id = 'VLF-0002'") // returned
        let d4 = try id("SELECT id FROM dossiers WHERE external_id = 'PTL-0001'") // awaiting_review
        let zoe = try id("SELECT id FROM children WHERE dossier_id = \(d1) AND position = 0")
        let noe = try id("SELECT id FROM children WHERE dossier_id = \(d1) AND position = 1")
        let other = try id("SELECT id FROM children WHERE dossier_id = \(d2) LIMIT 1")
        let s1 = try id("SELECT id FROM structures WHERE code = 'villefranche'")
        let s2 = try id("SELECT id FROM structures WHERE code = 'saint-amour'")
        let p1 = try id("SELECT id FROM periods WHERE structure_id = \(s1) LIMIT 1")
        let p2 = try id("SELECT id FROM periods WHERE structure_id = \(s2) LIMIT 1")
        let v1 = try id("SELECT min(id) FROM services WHERE structure_id = \(s1)")
        let v4 = try id("SELECT min(id) FROM services WHERE structure_id = \(s2)")
        let rights = """
            DELETE FROM child_period_rights;
            INSERT INTO child_period_rights (dossier_id, period_id, child_id, structure_id, service_ids, opened_by) VALUES
            """
        func row(_ d: Int64, _ p: Int64, _ c: Int64, _ s: Int64, _ v: String) -> String {
            "(\(d), \(p), \(c), \(s), '\(v)', 'admin:test')"
        }
        let widen = { (bad: String) in
            "UPDATE child_period_rights SET service_ids = CASE WHEN child_id = \(zoe) THEN service_ids || \(bad) ELSE service_ids END"
        }
        // (name, as the worker, script): the owner's scripts run in a transaction rolled back.
        var cases: [(String, Bool, String)] = [
            ("good rows", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p1, noe, s1, "[5:5]={\(v1)}"))"),
            ("a NULL service", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p1, noe, s1, "{\(v1),NULL}"))"),
            (
                "NULLs in a group", false,
                "\(rights) \(row(d1, p1, zoe, s1, "{\(v1),NULL}")), \(row(d1, p1, noe, s1, "{\(v1),NULL}"))"
            ),
            ("a service twice", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p1, noe, s1, "{\(v1),\(v1)}"))"),
            ("a foreign service", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p1, noe, s1, "{\(v4)}"))"),
            ("a foreign period", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p2, noe, s1, "{\(v1)}"))"),
            ("another structure", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p2, noe, s2, "{\(v4)}"))"),
            (
                "another dossier's child", false,
                "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d1, p1, other, s1, "{\(v1)}"))"
            ),
            ("a returned dossier", false, "\(rights) \(row(d1, p1, zoe, s1, "{\(v1)}")), \(row(d2, p1, other, s1, "{\(v1)}"))"),
            ("an undecided dossier", false, "\(rights) \(row(d4, p2, zoe, s2, "{\(v4)}"))"),
            (
                "no status row", false,
                "DELETE FROM dossier_status WHERE dossier_id = \(d1); \(rights) \(row(d1, p1, zoe, s1, "{\(v1)}"))"
            ),
            ("widened by NULL", true, widen("NULL::bigint")),
            ("widened twice", true, widen("\(v1)::bigint")),
            ("widened abroad", true, widen("\(v4)::bigint")),
            ("widened", true, "UPDATE child_period_rights SET service_ids = service_ids WHERE dossier_id = \(d1)"),
        ]
        // Emails, as the owner (whose emails need their cause, but not in this transaction).
        let emails = """
            INSERT INTO email_template_sets (files) VALUES (convert_to('{}', 'UTF8')) ON CONFLICT DO NOTHING;
            DELETE FROM email_outbox;
            INSERT INTO email_outbox (dossier_id, structure_id, kind, decision_id, period_id, message_id, sender, recipient,
                                      particulars, template_set)
            SELECT d.id, coalesce(o.structure_id, d.structure_id), o.kind::email_kind,
                   CASE WHEN o.kind = 'dossier-processed' THEN x.id END, CASE WHEN o.kind = 'planning-open' THEN \(p1) END,
                   'review-' || n || '@x', coalesce(o.sender, s.sender_email), coalesce(o.recipient, a.email), '{}',
                   coalesce(o.template_set, sha256(convert_to('{}', 'UTF8')))
            FROM (VALUES
            """
        let tail = """
                ) AS o(n, external_id, kind, structure_id, recipient, sender, template_set)
            JOIN dossiers d ON d.external_id = o.external_id JOIN accounts a ON a.id = d.account_id
            JOIN structures s ON s.id = d.structure_id
            LEFT JOIN LATERAL (SELECT id FROM decisions WHERE dossier_id = d.id ORDER BY id DESC LIMIT 1) x ON true
            """
        let good = """
            (1, 'VLF-0001', 'dossier-processed', NULL::bigint, NULL::text, NULL::text, NULL::bytea),
            (2, 'VLF-0002', 'dossier-processed', NULL, NULL, NULL, NULL), (3, 'VLF-0003', 'dossier-processed', NULL, NULL, NULL, NULL),
            (4, 'PTL-0001', 'dossier-processed', NULL, NULL, NULL, NULL)
            """
        for (name, bad) in [
            ("good emails", "(5, 'VLF-0001', 'planning-open', NULL, NULL, NULL, NULL)"),
            ("a stranger", "(5, 'VLF-0001', 'planning-open', NULL, 'k.nguyen@example.org', NULL, NULL)"),
            ("another sender", "(5, 'VLF-0001', 'planning-open', NULL, NULL, 'inscriptions@ptits-loups.example', NULL)"),
            ("another structure's", "(5, 'VLF-0001', 'planning-open', \(s2), NULL, NULL, NULL)"),
            ("an unstored set", "(5, 'VLF-0001', 'planning-open', NULL, NULL, NULL, '\\x07'::bytea)"),
        ] {
            cases.append(("emails: \(name)", false, "\(emails) \(good), \(bad) \(tail)"))
        }
        var outcomes: [String: String] = [:]
        for (version, definitions) in [("034", try Self.current()), ("before", try Self.replaced())] {
            try owner.execute(script: definitions)
            for (name, asWorker, script) in cases {
                let session = asWorker ? worker : owner
                try session.execute(script: "BEGIN")
                var outcome = "accepted"
                do {
                    try session.execute(script: script)
                } catch {
                    outcome = error.sqlState ?? "\(error)"
                }
                outcomes["\(name) | \(version)"] = outcome
                try session.execute(script: "ROLLBACK")
            }
        }
        try owner.execute(script: try Self.current())
        for (name, _, _) in cases {
            #expect(
                outcomes["\(name) | 034"] == outcomes["\(name) | before"],
                "\(name): \(outcomes["\(name) | 034"] ?? "-") vs \(outcomes["\(name) | before"] ?? "-")")
        }
        #expect(outcomes["good rows | 034"] == "accepted" && outcomes["widened | 034"] == "accepted")
        #expect(outcomes["emails: good emails | 034"] == "accepted")
        #expect(outcomes["a NULL service | 034"] == "23503" && outcomes["NULLs in a group | 034"] == "23503")
        #expect(outcomes["widened by NULL | 034"] == "23503" && outcomes["emails: a stranger | 034"] == "ETK10")
    }

    /// The emails statement's structures check (034's expression): a built email whose print is
    /// stale fails with 40001, even when the change wrote the same values; a change to a structure
    /// the batch did not read does not; and the statement without built emails ($13 NULL) never
    /// raises, whatever changed.
    @Test func theStructuresCheckRaisesOnlyForABuiltEmailsStalePrint() throws {
        let conninfo = try Fixture.decidedExamples()
        let owner = try Fixture.connection(conninfo)
        defer { owner.close() }
        let other = try Fixture.connection(conninfo)
        defer { other.close() }
        func id(_ sql: String) throws -> Int64 {
            guard let value = try owner.scalar(sql, as: Int64.self) else {
                throw PostgresError(code: .client, message: "no row: \(sql)")
            }
            return value
        }
        let d1 = try id("SELECT id FROM dossiers WHERE external_id = 'VLF-0001'")
        let s1 = try id("SELECT id FROM structures WHERE code = 'villefranche'")
        let p1 = try id("SELECT id FROM periods WHERE structure_id = \(s1) LIMIT 1")
        let v1 = try id("SELECT min(id) FROM services WHERE structure_id = \(s1)")
        let decision = try id("SELECT min(id) FROM decisions WHERE dossier_id = \(d1)")
        let print = try #require(
            try owner.scalar("SELECT \(DossierStore.catalogPrint(of: "$1::bigint[]"))", [[s1]], as: String.self))
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
        let dossier = try DossierContract.decode(line: Array(line.utf8)).get()
        let day = try #require(CalendarDate(iso: "2026-12-03"))
        let structure = StructureContext(
            id: s1, code: "villefranche", review: .automatic, rightsOpening: .onValidation, requiredDocumentKinds: [],
            documentLabels: [:], today: day, periods: [.init(id: p1, code: "2026-2027", startsOn: day, endsOn: day)],
            services: [.init(id: v1, label: "Cantine", weekdays: [1, 2, 4, 5])], catalog: .init(structures: [s1], print: print))
        let particulars = try #require(
            EmailParticulars(
                firstOpening: [.init(dossierID: d1, periodID: p1, childPosition: 0, serviceIDs: [v1], first: true)],
                of: dossier, in: structure))
        let built = FamilyEmailStore.BuiltEmail(
            dossierID: d1, cause: .opening(period: p1), particulars: particulars, catalog: structure.catalog)
        let templates = StoredTemplateSet(try EmailTemplates.library(Fixture.templates))
        let store = FamilyEmailStore(connection: owner)
        func attempt(_ write: () throws -> Void) throws -> String {
            try owner.execute(script: "BEGIN")
            defer { try? owner.execute(script: "ROLLBACK") }
            do { try write() } catch { return (error as? PostgresError)?.sqlState ?? "\(error)" }
            return "accepted"
        }
        // (d1, p1) is mailed already: the email is skipped, but the statement, and its check, run.
        #expect(try attempt { try store.insert(decisions: [], openings: [], built: [built], templates: templates) } == "accepted")
        try other.query("UPDATE services SET label = label WHERE structure_id <> \(s1)")
        #expect(try attempt { try store.insert(decisions: [], openings: [], built: [built], templates: templates) } == "accepted")
        try other.query("UPDATE services SET label = label WHERE id = \(v1)")
        #expect(try attempt { try store.insert(decisions: [], openings: [], built: [built], templates: templates) } == "40001")
        #expect(try attempt { try store.insert(decisions: [decision], openings: [], templates: templates) } == "accepted")
        #expect(
            try attempt {
                try store.insert(
                    decisions: [decision], openings: [.init(dossierID: d1, periodID: p1, children: 2)], templates: templates)
            } == "accepted")
    }
}
