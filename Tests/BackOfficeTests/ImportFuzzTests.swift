import BackOffice
import Foundation
import Postgres
import SeededGenerator
import Testing

/// Ways to damage a valid line, each a kind of bad input met in real exports.
enum Damage: CaseIterable {
    case truncate, flipByte, insertControl, invalidUTF8, dropQuote, duplicateKey, deepNesting, hugeString, wrongType, nulEscape

    func apply(to line: [UInt8], using random: inout SeededRandom) -> [UInt8] {
        var bytes = line
        let at = Int.random(in: 1..<max(2, bytes.count - 1), using: &random)
        switch self {
        case .truncate: return Array(bytes.prefix(at))
        case .flipByte: bytes[at] ^= UInt8.random(in: 1...255, using: &random)
        case .insertControl: bytes.insert(UInt8.random(in: 0...31, using: &random), at: at)
        case .invalidUTF8: bytes.insert(contentsOf: [0xC3, 0x28], at: at)
        case .dropQuote:
            if let quote = bytes[at...].firstIndex(of: UInt8(ascii: "\"")) { bytes.remove(at: quote) }
        case .duplicateKey: return Array(#"{"confirmed": true, "#.utf8) + bytes.dropFirst()
        case .deepNesting: return Array(String(repeating: "[", count: 5_000).utf8) + bytes
        case .hugeString:
            let text = String(decoding: bytes, as: UTF8.self)
                .replacingOccurrences(of: "Allergie à l'arachide", with: String(repeating: "é", count: 1_000_000))
            return Array(text.utf8)
        case .wrongType:
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(
                of: #""confirmed": true"#, with: #""confirmed": "yes""#)
            return Array(text.utf8)
        case .nulEscape:
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "Martin", with: #"Mar\u0000tin"#)
            return Array(text.utf8)
        }
        return bytes
    }
}

@Suite("Bad input, tried systematically: the import")
struct ImportFuzzTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func damagedLinesAreRefusedAloneAndLeaveNothingBehind(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let examples = try Fixture.exampleLines()
        let base = Array(try #require(examples["VLF-0001"]).utf8)
        var lines: [[UInt8]] = []
        var intact: Set<String> = []
        for index in 0..<60 {
            var line = Array(
                String(decoding: base, as: UTF8.self)
                    .replacingOccurrences(of: "VLF-0001", with: "FUZZ-\(seed)-\(index)").utf8)
            if index % 3 == 0 {
                intact.insert("FUZZ-\(seed)-\(index)")
            } else {
                let damage = Damage.allCases.randomElement(using: &random) ?? .truncate
                line = damage.apply(to: line, using: &random)
            }
            lines.append(line)
        }
        let path = try Fixture.data(Data(lines.joined(separator: [UInt8(ascii: "\n")])), name: "fuzz.jsonl")
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let rejects = path + ".rejects"
        let report = try administration.importDossiers(file: path, rejectsPath: rejects)

        // A flipped byte may become a newline and split a line in two: count what was read.
        #expect(report.lines >= 60)
        #expect(report.accepted + report.rejected.count == report.lines)
        #expect(report.rejected.allSatisfy { !$0.reasons.isEmpty && $0.reasons.allSatisfy { $0.hasPrefix("$") } })
        let owner = try Fixture.connection(conninfo)
        let stored = Set(try owner.query("SELECT external_id FROM dossiers").map { try $0.decode(String.self, "external_id") })
        // Every intact line is in; whatever is in was accepted whole (its children and queue row too).
        #expect(intact.isSubset(of: stored))
        #expect(stored.count == report.accepted)
        #expect(try owner.scalar("SELECT count(*) FROM dossier_queue", as: Int.self) == report.accepted)
        #expect(
            try owner.scalar(
                "SELECT count(*) FROM dossiers d WHERE (SELECT count(*) FROM children c WHERE c.dossier_id = d.id) <> jsonb_array_length(d.content->'children')",
                as: Int.self) == 0)
        let rejectLines = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n")
        #expect(rejectLines.count == report.rejected.count)
    }

    /// The example line VLF-0001 with `change` applied to its JSON object.
    private func exampleLine(_ change: (inout [String: Any]) -> Void) throws -> String {
        let line = try #require(try Fixture.exampleLines()["VLF-0001"])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        change(&object)
        return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    private func imported(_ line: String) throws -> (report: ImportReport, stored: Int) {
        let conninfo = try Fixture.exampleStructuresDatabase()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        let report = try administration.importDossiers(file: try Fixture.file(["{}", line]))
        let stored = try Fixture.connection(conninfo).scalar("SELECT count(*) FROM dossiers", as: Int.self) ?? -1
        return (report, stored)
    }

    /// The contract states its limits, and a line beyond them is refused with its line and JSON
    /// path, never with the database's error about a `smallint` (40,000 children).
    @Test(arguments: [
        ("children", 40_000, "$.children: must have at most 20 items, found 40000"),
        ("guardians", 11, "$.guardians: must have at most 10 items, found 11"),
        ("trusted_persons", 21, "$.trusted_persons: must have at most 20 items, found 21"),
        ("documents", 101, "$.documents: must have at most 100 items, found 101"),
    ])
    func aLineBeyondTheContractsLimitsIsRefusedWithItsPath(_ part: String, _ count: Int, _ reason: String) throws {
        let line = try exampleLine { object in
            let items = object[part] as? [Any] ?? []
            let item = items.first ?? ["first_name": "A", "last_name": "B"]
            object[part] = Array(repeating: item, count: count)
        }
        let (report, stored) = try imported(line)
        let rejected = try #require(report.rejected.first { $0.line == 2 })
        #expect(rejected.reasons == [reason])
        #expect(stored == 0)
    }

    @Test func aTooLongServiceOrDocumentKindIsRefusedWithItsPath() throws {
        let line = try exampleLine { object in
            var children = object["children"] as? [[String: Any]] ?? []
            children[0]["services"] = [String(repeating: "s", count: 65)]
            object["children"] = children
        }
        let rejected = try #require(try imported(line).report.rejected.first { $0.line == 2 })
        #expect(rejected.reasons == ["$.children[0].services[0]: longer than 64 characters"])
    }

    /// A child may ask only for the services its structure runs: any other is refused, named.
    @Test func anUnknownServiceIsRefusedWithItsPathAndName() throws {
        let line = try exampleLine { object in
            var children = object["children"] as? [[String: Any]] ?? []
            children[0]["services"] = ["nosuchservice"]
            object["children"] = children
        }
        let rejected = try #require(try imported(line).report.rejected.first { $0.line == 2 })
        #expect(rejected.reasons.count == 1)
        #expect(
            rejected.reasons.first?.hasPrefix("$.children[0].services[0]: unknown service \"nosuchservice\"") == true,
            "\(rejected.reasons)")
    }

    /// An address the mail relay can never deliver is refused at import, where the portal can be
    /// told, not retried and parked by the worker; the reason names the path, never the address.
    @Test(arguments: [
        ("account", "victim@example.org\r\nBcc: everyone@example.net"), ("account", "victim example.org"),
        ("account", "victim @example.org"), ("account", "victïm@example.org"), ("account", "victim@exa_mple.org"),
        ("account", "victim@-example.org"), ("account", "victim@example..org"), ("account", "victim.@example.org"),
        ("account", "\"victim\"@example.org"), ("account", "victim@example.org>"), ("guardian", "victim@example.org\nBcc: x@y.z"),
        ("guardian", "victim"),
    ])
    func anUndeliverableAddressIsRefusedAtImportWithoutQuotingIt(_ whose: String, _ address: String) throws {
        let line = try exampleLine { object in
            if whose == "account" {
                var account = object["account"] as? [String: Any] ?? [:]
                account["email"] = address
                object["account"] = account
            } else {
                var guardians = object["guardians"] as? [[String: Any]] ?? []
                guardians[0]["email"] = address
                object["guardians"] = guardians
            }
        }
        let rejected = try #require(try imported(line).report.rejected.first { $0.line == 2 })
        let path = whose == "account" ? "$.account.email" : "$.guardians[0].email"
        #expect(rejected.reasons == ["\(path): is not a valid email address"])
        #expect(!rejected.reasons.joined().contains("victim"))
    }
}
