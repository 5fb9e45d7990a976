import Foundation
import Postgres
import Testing

/// `docs/architecture.md` draws the state machine as a mermaid diagram: it must be the database's
/// own table of transitions, read from a migrated schema, so that the document cannot drift.
@Suite("docs/architecture.md tells the schema's truth")
struct ArchitectureDocTests {
    /// The `from --> to` edges of the document's `stateDiagram`, without the start and end markers.
    static func documentedTransitions() throws -> Set<String> {
        let document = try String(
            contentsOf: Fixture.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        guard let start = document.range(of: "```mermaid\nstateDiagram-v2\n") else {
            Issue.record("docs/architecture.md has no mermaid stateDiagram-v2 block")
            return []
        }
        var edges: Set<String> = []
        for line in document[start.upperBound...].split(separator: "\n") {
            if line.hasPrefix("```") { break }
            let arrow = line.split(separator: ":", maxSplits: 1)[0].components(separatedBy: "-->")
            guard arrow.count == 2 else { continue }
            let (from, to) = (arrow[0].trimmingCharacters(in: .whitespaces), arrow[1].trimmingCharacters(in: .whitespaces))
            if from == "[*]" || to == "[*]" { continue }
            edges.insert("\(from)→\(to)")
        }
        return edges
    }

    @Test func theDiagramIsTheTransitionsTable() throws {
        let connection = try Connection(try Fixture.migratedDatabase())
        defer { connection.close() }
        let table = Set(
            try connection.query("SELECT from_state::text AS f, to_state::text AS t FROM dossier_transitions").map {
                "\(try $0.decode(String.self, "f"))→\(try $0.decode(String.self, "t"))"
            })
        let documented = try Self.documentedTransitions()
        #expect(
            documented.subtracting(table).isEmpty,
            "drawn but not in dossier_transitions: \(documented.subtracting(table).sorted())")
        #expect(
            table.subtracting(documented).isEmpty,
            "in dossier_transitions but not drawn: \(table.subtracting(documented).sorted())")
    }
}
