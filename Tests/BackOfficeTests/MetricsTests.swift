import Foundation
import TestSupport
import Testing

@testable import BackOffice

@Suite("Metrics: Prometheus exposition and atomic files")
struct MetricsTests {
    /// A sample line of the text exposition format: name, optional labels, a number.
    private let sample = try! Regex(
        #"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$"#
    )

    @Test func theMetricsOfADecidedDatabaseFollowTheExpositionFormat() throws {
        let conninfo = try Fixture.decidedExamples()
        let administration = try Fixture.administration(conninfo)
        defer { administration.close() }
        try Fixture.park("VLF-0002", on: try Fixture.connection(conninfo))
        let text = try administration.prometheusMetrics()
        #expect(text.hasSuffix("\n"))

        var helps: [String: Int] = [:]
        var types: [String: String] = [:]
        var values: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            if line.hasPrefix("# HELP ") {
                #expect(words.count == 4, "HELP without text: \(line)")
                helps[words[2], default: 0] += 1
            } else if line.hasPrefix("# TYPE ") {
                #expect(types[words[2]] == nil, "TYPE twice: \(line)")
                #expect(words.count == 4 && ["gauge", "counter"].contains(words[3]), "bad TYPE: \(line)")
                types[words[2]] = words[3]
            } else {
                let match = try #require(try sample.wholeMatch(in: String(line)), "not a sample line: \(line)")
                let name = try #require(match.output[1].substring.map(String.init))
                #expect(types[name] != nil, "sample before its TYPE: \(line)")
                let value = try #require(line.split(separator: " ").last.map(String.init))
                values[String(line.dropLast(value.count + 1))] = value
            }
        }
        let names = [
            "eticket_dossiers", "eticket_queue_waiting", "eticket_queue_oldest_age_seconds", "eticket_decisions_last_hour",
            "eticket_queue_failed", "eticket_outbox_pending", "eticket_outbox_delivery",
            "eticket_outbox_oldest_unsent_age_seconds",
        ]
        #expect(Set(types.keys) == Set(names))
        #expect(helps == Dictionary(uniqueKeysWithValues: names.map { ($0, 1) }))
        #expect(values[#"eticket_dossiers{structure="villefranche",state="returned"}"#] == "2")
        #expect(values[#"eticket_dossiers{structure="villefranche",state="planning_open"}"#] == "1")
        #expect(values[#"eticket_dossiers{structure="saint-amour",state="awaiting_review"}"#] == "1")
        #expect(values[#"eticket_decisions_last_hour{structure="villefranche",outcome="validated"}"#] == "1")
        #expect(values[#"eticket_queue_failed{structure="villefranche"}"#] == "1")
        #expect(values[#"eticket_queue_failed{structure="saint-amour"}"#] == "0")
        #expect(values[#"eticket_outbox_pending{structure="villefranche"}"#] == "4")
        #expect(values[#"eticket_queue_oldest_age_seconds{structure="villefranche"}"#] == "0") // the parked row does not wait
        #expect(values[#"eticket_outbox_delivery{structure="villefranche",state="pending"}"#] == "4")
        #expect(values[#"eticket_outbox_delivery{structure="villefranche",state="sent"}"#] == "0")
        // Per structure: 7 states, waiting, oldest, 4 outcomes, failed, pending, 5 deliveries, oldest unsent.
        #expect(values.count == 2 * 7 + 2 + 2 + 2 * 4 + 2 + 2 + 2 * 5 + 2)
    }

    @Test func labelValuesAndHelpAreEscaped() throws {
        let exposition = PrometheusExposition(metrics: [
            .init(
                name: "m", help: "a \\ help\nline",
                samples: [.init([("structure", "a\"b\\c\nd")], 1.5), .init([], 3)])
        ])
        let text = exposition.render()
        #expect(
            text == """
                # HELP m a \\\\ help\\nline
                # TYPE m gauge
                m{structure="a\\"b\\\\c\\nd"} 1.5
                m 3

                """)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(try sample.wholeMatch(in: String(line)) != nil, "not a sample line: \(line)")
        }
        #expect(PrometheusExposition.escapeLabelValue("plain é") == "plain é")
    }

    @Test func writeAtomicallyReplacesTheWholeFileAndLeavesNoTemporary() throws {
        let directory = TestFiles.directory.appendingPathComponent("eticket-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("eticket.prom").path
        try writeAtomically("first 1\n", to: path)
        try writeAtomically("second 2\n", to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second 2\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["eticket.prom"])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o644)
        let missing = #expect(throws: BackOfficeError.self) {
            try writeAtomically("x", to: directory.appendingPathComponent("no/such/dir/file.prom").path)
        }
        #expect(missing?.message.contains("cannot create") == true)
    }
}
