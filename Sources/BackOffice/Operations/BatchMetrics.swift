import Foundation

/// The batch run's own metrics in the Prometheus text exposition format, for node_exporter's
/// textfile collector (`--metrics-file`).
public enum BatchMetrics {
    /// The report of one run as Prometheus gauges (each run replaces the last).
    ///
    /// - Parameter exitStatus: what the run exits with, so that alerts can tell failures apart.
    public static func render(_ report: BatchRunReport, exitStatus: Int32) -> String {
        var lines: [String] = []
        func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: String)]) {
            lines.append("# HELP eticket_batch_\(name) \(help)")
            lines.append("# TYPE eticket_batch_\(name) gauge")
            for sample in samples { lines.append("eticket_batch_\(name)\(sample.labels) \(sample.value)") }
        }
        func labelled(_ label: String, _ counts: [String: Int], _ keys: [String]) -> [(labels: String, value: String)] {
            Set(keys).union(counts.keys).sorted().map { ("{\(label)=\"\(escaped($0))\"}", String(counts[$0, default: 0])) }
        }
        gauge(
            "last_run_timestamp_seconds", "When the last batch run started (Unix time).",
            [("", String(format: "%.3f", report.startedAt.timeIntervalSince1970))])
        gauge("duration_seconds", "How long the last batch run took.", [("", String(format: "%.3f", report.durationSeconds))])
        gauge(
            "exit_status", "The last batch run's exit status (0 done, 5 done with failures, 69 mail relay unavailable).",
            [("", String(exitStatus))])
        gauge("processed", "Queue rows the last batch run handled.", [("", String(report.processed))])
        gauge(
            "decisions", "Decisions the last batch run recorded, by outcome.",
            labelled("outcome", report.outcomes, ["validated", "awaiting_review", "returned", "rejected"]))
        gauge(
            "planning_opened", "Dossiers whose reservation planning the last batch run opened.",
            [("", String(report.planningOpened))])
        gauge("retried", "Dossiers the last batch run will retry.", [("", String(report.retried))])
        gauge("failed", "Dossiers the last batch run parked as failed.", [("", String(report.failed))])
        gauge(
            "emails", "Emails the last batch run wrote to the outbox, by kind.",
            labelled("kind", report.emails, ["dossier-processed", "planning-open"]))
        gauge("emails_exported", "Emails the last batch run exported.", [("", String(report.emailsExported))])
        if let delivery = report.delivery {
            gauge(
                "emails_delivery", "Emails the last batch run offered to the mail relay, by outcome.",
                labelled("outcome", ["sent": delivery.sent, "deferred": delivery.deferred, "failed": delivery.failed], []))
            gauge(
                "relay_unavailable", "Whether the mail relay could not be used in the last batch run (1) or could (0).",
                [("", delivery.relayError == nil ? "0" : "1")])
        }
        gauge("remaining", "Queue rows still due when the last batch run stopped.", [("", String(report.remaining))])
        return lines.joined(separator: "\n") + "\n"
    }

    private static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Replaces `path` with `text` atomically (see ``writeAtomically(_:to:)``), so that a reader
    /// (the textfile collector) sees the old file or the new one, never half of one.
    ///
    /// - Throws: ``BackOfficeError`` `.failure` naming the file and the reason.
    public static func save(_ text: String, to path: String) throws {
        try writeAtomically(text, to: path)
    }
}
