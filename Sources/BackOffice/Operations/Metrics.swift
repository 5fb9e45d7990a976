import Foundation
import Mail

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Metrics in the Prometheus text exposition format (version 0.0.4), for node_exporter's textfile
/// collector or a scrape endpoint.
public struct PrometheusExposition: Sendable, Equatable {
    public enum Kind: String, Sendable { case gauge, counter }

    public struct Sample: Sendable, Equatable {
        public var labels: [(String, String)]
        public var value: Double

        public init(_ labels: [(String, String)] = [], _ value: Double) {
            self.labels = labels
            self.value = value
        }

        public static func == (lhs: Sample, rhs: Sample) -> Bool {
            lhs.value == rhs.value && lhs.labels.map(\.0) == rhs.labels.map(\.0) && lhs.labels.map(\.1) == rhs.labels.map(\.1)
        }
    }

    public struct Metric: Sendable, Equatable {
        public var name: String
        public var help: String
        public var kind: Kind
        public var samples: [Sample]

        public init(name: String, help: String, kind: Kind = .gauge, samples: [Sample]) {
            self.name = name
            self.help = help
            self.kind = kind
            self.samples = samples
        }
    }

    public var metrics: [Metric]

    public init(metrics: [Metric]) { self.metrics = metrics }

    /// The exposition text: per metric one `# HELP`, one `# TYPE`, then its samples; ends with a newline.
    public func render() -> String {
        var lines: [String] = []
        for metric in metrics {
            lines.append("# HELP \(metric.name) \(Self.escapeHelp(metric.help))")
            lines.append("# TYPE \(metric.name) \(metric.kind.rawValue)")
            for sample in metric.samples {
                let labels =
                    sample.labels.isEmpty
                    ? "" : "{" + sample.labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
                lines.append("\(metric.name)\(labels) \(Self.format(sample.value))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value as the format wants it: `\` → `\\`, `"` → `\"`, line feed → `\n`.
    static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// A HELP text: `\` → `\\`, line feed → `\n`.
    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

extension PrometheusExposition {
    /// The back office's metrics from per-structure queue statistics.
    public init(_ stats: [StructureQueueStats]) {
        func perStructure(_ value: (StructureQueueStats) -> Int) -> [Sample] {
            stats.map { Sample([("structure", $0.structure)], Double(value($0))) }
        }
        self.init(metrics: [
            Metric(
                name: "eticket_dossiers", help: "Dossiers per structure and state.",
                samples: stats.flatMap { structure in
                    structure.dossiers.keys.sorted().map {
                        Sample([("structure", structure.structure), ("state", $0)], Double(structure.dossiers[$0] ?? 0))
                    }
                }),
            Metric(
                name: "eticket_queue_waiting", help: "Queue items due and waiting for a worker.",
                samples: perStructure(\.waiting)),
            Metric(
                name: "eticket_queue_oldest_age_seconds",
                help: "Seconds the oldest due queue item has waited (0 when none waits).",
                samples: perStructure(\.oldestWaitingSeconds)),
            Metric(
                name: "eticket_decisions_last_hour", help: "Decisions recorded in the last hour, per outcome.",
                samples: stats.flatMap { structure in
                    structure.decisionsLastHour.keys.sorted().map {
                        Sample(
                            [("structure", structure.structure), ("outcome", $0)], Double(structure.decisionsLastHour[$0] ?? 0))
                    }
                }),
            Metric(
                name: "eticket_queue_failed",
                help: "Queue items parked after their attempts ran out (eticket queue retry).",
                samples: perStructure(\.failed)),
            Metric(
                name: "eticket_outbox_pending", help: "Emails in the outbox not exported yet.",
                samples: perStructure(\.outboxPending)),
            Metric(
                name: "eticket_outbox_delivery",
                help: "Emails per structure and delivery state (pending, sent, deferred, failed, skipped).",
                samples: stats.flatMap { structure in
                    EmailDelivery.allCases.map {
                        Sample(
                            [("structure", structure.structure), ("state", $0.rawValue)],
                            Double(structure.delivery[$0.rawValue] ?? 0))
                    }
                }),
            Metric(
                name: "eticket_outbox_oldest_unsent_age_seconds",
                help: "Seconds the oldest email not sent yet (pending or deferred) has waited (0 when none).",
                samples: perStructure(\.oldestUnsentSeconds)),
        ])
    }
}

extension Administration {
    /// The queue statistics of every structure in the Prometheus text exposition format.
    ///
    /// - Throws: ``BackOfficeError`` when the database cannot be read.
    func prometheusMetrics() throws -> String {
        PrometheusExposition(try queueStats()).render()
    }
}

/// Replaces the file at `path` with `text` so that a reader sees the old or the new content, never
/// a part: writes a temporary file in the same directory, fsyncs it, renames it over `path`, then
/// fsyncs the directory, all through a ``SafeDirectory``: a symbolic link, a file of another user
/// or anything but a regular file at `path` (or at the temporary name) is refused, not written
/// through. The file is readable by all (mode 0644), as a metrics collector running as its own
/// user needs: it holds counts, never a family's data.
///
/// - Throws: ``BackOfficeError`` `.failure` naming the path and the reason.
func writeAtomically(_ text: String, to path: String) throws {
    do {
        let (directory, name) = try SafeDirectory.containing(path, create: false)
        try directory.replace(name, with: Array(text.utf8), temporary: ".\(name).tmp-\(getpid())", mode: 0o644)
    } catch {
        throw BackOfficeError(.failure, "cannot create \(path): \(error)", underlying: error)
    }
}
