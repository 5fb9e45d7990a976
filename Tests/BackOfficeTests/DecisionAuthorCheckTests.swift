import BackOffice
import Foundation
import Postgres
import Testing

/// Migration 035 rewrote the CHECK of a decision's author without a regular expression: it must
/// accept and refuse exactly what the expression did, and a refused decision still fails with
/// 23514 under the constraint's name.
@Suite("A decision's author checked without the regex engine")
struct DecisionAuthorCheckTests {
    static let authors = [
        "worker:test:1", "admin:Marie Curie", "admin:é", "worker:\n", "worker:", "admin:", "Worker:x", " worker:x",
        "workers:x", "adminx", "", "admin", "worker:x\n", "admin::", "wörker:x",
    ]
    static let digest = String(repeating: "0123456789abcdef", count: 4)

    @Test func itAcceptsAndRefusesWhatTheRegularExpressionDid() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        for author in Self.authors {
            let verdicts = try #require(
                try connection.query(
                    "SELECT $1 ~ '^(worker|admin):.+' AS before, ($1 LIKE 'worker:_%' OR $1 LIKE 'admin:_%') AS now",
                    [author]
                ).first)
            #expect(try verdicts.decode(Bool.self, "before") == verdicts.decode(Bool.self, "now"), "\(author.debugDescription)")
        }
    }

    @Test func aDecisionItRefusesFailsWith23514() throws {
        let connection = try Fixture.connection(try Fixture.decidedExamples())
        defer { connection.close() }
        let insert = """
            INSERT INTO decisions (dossier_id, dossier_version, outcome, rules_version, content_sha256, decided_by)
            SELECT id, 1, 'validated', 'x', $1, $2 FROM dossiers WHERE external_id = 'PTL-0001'
            """
        let author = try connection.refusal(insert, [Self.digest, "worker:"])
        #expect(author.sqlState == "23514" && author.constraint == "decisions_decided_by_check", "\(author)")
        let hash = try connection.refusal(insert, [Self.digest.uppercased(), "admin:x"])
        #expect(hash.sqlState == "23514" && hash.constraint == "decisions_content_sha256_check", "\(hash)")
    }
}
