import BackOffice
import Foundation
import Postgres
import Testing

/// Migration 035 rewrote two CHECKs of `decisions` without regular expressions: they must accept
/// and refuse exactly what the expressions did, and a refused decision still fails with 23514
/// under the constraint's name.
@Suite("Decisions' checks without the regex engine")
struct ChecksWithoutRegexTests {
    static let authors = [
        "worker:test:1", "admin:Marie Curie", "admin:é", "worker:\n", "worker:", "admin:", "Worker:x", " worker:x",
        "workers:x", "adminx", "", "admin", "worker:x\n", "admin::", "wörker:x",
    ]
    static let digest = String(repeating: "0123456789abcdef", count: 4)
    static let hashes = [
        digest, String(digest.dropLast()), digest + "0", digest.uppercased(), String(digest.dropLast()) + " ",
        String(digest.dropLast(2)) + "é", String(digest.dropLast()) + "g", String(repeating: "a", count: 64), "",
    ]

    @Test func theyAcceptAndRefuseWhatTheRegularExpressionsDid() throws {
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
        for hash in Self.hashes {
            let verdicts = try #require(
                try connection.query(
                    """
                    SELECT octet_length($1) = 64 AND $1 ~ '^[0-9a-f]+$' AS before,
                           octet_length($1) = 64 AND ltrim($1, '0123456789abcdef') = '' AS now
                    """, [hash]
                ).first)
            #expect(try verdicts.decode(Bool.self, "before") == verdicts.decode(Bool.self, "now"), "\(hash.debugDescription)")
        }
    }

    @Test func aDecisionTheyRefuseFailsWith23514() throws {
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
