import CommandLineSupport
import ETicketBench
import Foundation

/// The report as text, for a reader (`--format json` is for a program).
extension BenchCommand {
    static func text(_ report: BenchReport) -> String {
        var lines = [
            "machine: \(counted(report.machine.cores, "core")), \(report.machine.memoryMiB) MiB, \(report.machine.cpu), PostgreSQL \(report.machine.postgres)",
            "database: \(report.database.localCluster ? "local throw-away cluster" : "configured"), fsync=\(report.database.fsync), synchronous_commit=\(report.database.synchronousCommit), full_page_writes=\(report.database.fullPageWrites), shared_buffers=\(report.database.sharedBuffers)",
            "",
        ]
        for phase in report.phases {
            lines.append(
                "\(phase.name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(phase.count) in \(phase.seconds) s: \(Int(phase.rate))/s"
            )
            if let cpu = phase.cpu { lines.append("           \(Self.text(cpu))") }
            if let wal = phase.walBytesPerItem { lines.append("           \(Self.text(wal: wal))") }
            if let perBatch = phase.statementsPerBatch { lines.append("           \(perBatch) statements per batch") }
            if let statements = phase.statements, !statements.isEmpty {
                lines.append(
                    "           statements, costliest first (time and WAL per item, triggers and foreign-key checks included):")
                lines += statements.map { "           \(Self.text($0))" }
            }
        }
        let outcomes = report.workers.outcomes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
        lines.append(
            "workers: peak RSS \(report.workers.peakRSSKiB.map { "\($0 / 1024) MiB" }.joined(separator: ", ")); \(outcomes.joined(separator: ", ")); \(counted(report.workers.emails, "email"))"
        )
        if let baseline = report.baseline {
            lines.append(
                "plain SQL: \(baseline.rows) rows in \(baseline.seconds) s: \(Int(baseline.rate))/s; processing is \(Int(baseline.ratio * 100)) % of it"
            )
            lines += Self.costLines(baseline)
        }
        if let floor = report.importFloor {
            lines.append(
                "bare COPY: \(floor.rows) lines in \(floor.seconds) s: \(Int(floor.rate))/s; the import is \(Int(floor.ratio * 100)) % of it"
            )
            lines += Self.costLines(floor)
        }
        if let latency = report.latency {
            let server = latency.commitToCommitMs.map { "commit→commit p50 \($0.p50) ms, p99 \($0.p99) ms; " } ?? ""
            lines.append(
                "latency (\(latency.samples)): \(server)client-observed p50 \(latency.clientObservedMs.p50) ms, p99 \(latency.clientObservedMs.p99) ms"
            )
        }
        if let depth = report.depth {
            lines.append(
                "depth: \(Int(depth.shallow.rate))/s with \(depth.shallowQueued) queued, \(Int(depth.deep.rate))/s with \(depth.deepQueued) queued: \(Int(depth.ratio * 100)) %"
            )
            for phase in [depth.shallow, depth.deep] {
                if let cpu = phase.cpu { lines.append("           \(phase.name): \(Self.text(cpu))") }
            }
        }
        lines += report.notes.map { "note: \($0)" }
        return lines.joined(separator: "\n")
    }

    private static func costLines(_ limit: BenchReport.Baseline) -> [String] {
        [limit.cpu.map(Self.text), limit.walBytesPerItem.map { Self.text(wal: $0) }].compactMap { $0 }.map { "           \($0)" }
    }

    /// "  0.147 ms  22.1 %   1,123 B  ×400  WITH opened AS ( INSERT INTO reservation_rights …"
    static func text(_ statement: BenchReport.StatementCost) -> String {
        let ms = String(format: "%7.3f ms", statement.msPerItem)
        let share = String(format: "%5.1f %%", statement.share * 100)
        let wal = "\(Self.grouped(statement.walBytesPerItem)) B".leftPadded(to: 9)
        return "\(ms) \(share) \(wal)  ×\(statement.calls)  \(statement.query)"
    }

    /// "wal: 9,812 bytes each"
    static func text(wal bytes: Double) -> String {
        "wal: \(grouped(bytes)) bytes each"
    }

    /// 9812 → "9,812", whatever the locale.
    private static func grouped(_ value: Double) -> String {
        Int(value).formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
    }

    /// "cpu: server 18.2 s (0.91 ms each, alone it allows 2197/s), client 4.1 s (0.2 ms each)"
    static func text(_ cpu: BenchReport.CPU) -> String {
        let client = "client \(cpu.clientSeconds) s (\(cpu.clientMsPerItem) ms each)"
        guard let server = cpu.serverSeconds, let each = cpu.serverMsPerItem else {
            return "cpu: \(client); the server's is not measured (not on this machine)"
        }
        let bound = cpu.serverLimitedRate.map { ", alone it allows \(Int($0))/s" } ?? ""
        return "cpu: server \(server) s (\(each) ms each\(bound)), \(client)"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
