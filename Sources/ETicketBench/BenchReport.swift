import BackOffice
import Foundation

/// What `eticket bench` measured; encoded as JSON for `--format json`.
package struct BenchReport: Codable, Sendable {
    package struct Machine: Codable, Sendable {
        package var cores: Int
        package var memoryMiB: Int
        package var cpu: String
        package var kernel: String
        package var postgres: String

        // Spelled out: snake case would write "memory_mi_b".
        enum CodingKeys: String, CodingKey {
            case cores, cpu, kernel, postgres
            case memoryMiB = "memory_mib"
        }
    }

    /// The server settings that decide what a commit costs.
    package struct DatabaseSettings: Codable, Sendable {
        /// Whether the benchmark started its own throw-away cluster (on this machine).
        package var localCluster: Bool
        package var fsync: String
        package var synchronousCommit: String
        package var fullPageWrites: String
        package var walSyncMethod: String
        package var sharedBuffers: String
        package var trackCommitTimestamp: String
    }

    package struct Parameters: Codable, Sendable {
        package var dossiers: Int
        package var workers: Int
        package var batch: Int
        package var incomplete: Double
        package var seed: UInt64
    }

    package struct Phase: Codable, Sendable {
        package var name: String
        package var count: Int
        package var seconds: Double
        /// count / seconds.
        package var rate: Double
        /// Where the phase's CPU time went; absent for phases not measured that way.
        package var cpu: CPU?
        /// WAL the server wrote during the phase, per item; absent for phases not measured that way.
        package var walBytesPerItem: Double?
        /// The statements that took the server the most time, costliest first; absent where
        /// pg_stat_statements cannot be read.
        package var statements: [StatementCost]?
        /// Top-level statements per batch (a worker's batch, an import transaction; BEGIN, COMMIT
        /// and SAVEPOINT included), from pg_stat_statements: the round trips a batch costs.
        package var statementsPerBatch: Double?

        init(_ name: String, count: Int, seconds: Double, cpu: CPU? = nil) {
            self.name = name
            self.count = count
            self.seconds = (seconds * 1000).rounded() / 1000
            self.rate = seconds > 0 ? (Double(count) / seconds).rounded() : 0
            self.cpu = cpu
        }

        init(_ name: String, count: Int, seconds: Double, costs: BenchMeters.Costs) {
            self.init(name, count: count, seconds: seconds, cpu: costs.cpu)
            walBytesPerItem = costs.walBytesPerItem
            statements = costs.statements
            statementsPerBatch = costs.statementsPerBatch
        }
    }

    /// One statement's share of a phase, from pg_stat_statements: execution time of the
    /// top-level statement, the triggers and foreign-key checks it fired included.
    package struct StatementCost: Codable, Sendable {
        /// The normalised statement, on one line, cut at 120 characters.
        package var query: String
        package var calls: Int
        package var rows: Int
        package var msPerItem: Double
        package var walBytesPerItem: Double
        /// Of the phase's top-level statement time.
        package var share: Double
    }

    /// CPU time used during a phase, by side (getrusage for the client, /proc for the server).
    package struct CPU: Codable, Sendable {
        /// Every process under the postmaster: the phase's backends, and whatever else the
        /// server did meanwhile (autovacuum, the checkpointer, the WAL writer, other sessions).
        /// Absent when the server is not on this machine.
        package var serverSeconds: Double?
        /// This process (import, baseline, and workers run as threads) or the worker processes
        /// it waited for (process).
        package var clientSeconds: Double
        /// `serverSeconds` per item of the phase (dossier, row), in milliseconds.
        package var serverMsPerItem: Double?
        /// `clientSeconds` per item of the phase, in milliseconds.
        package var clientMsPerItem: Double
        /// The rate the server's share alone allows: this machine's cores (as the process sees
        /// them) ÷ server CPU per item. What an infinitely fast client would reach, were the
        /// server's work spread evenly over every core.
        package var serverLimitedRate: Double?

        init(server: Double?, client: Double, items: Int) {
            func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
            let count = Double(max(items, 1))
            serverSeconds = server.map(rounded)
            clientSeconds = rounded(client)
            serverMsPerItem = server.map { rounded($0 * 1000 / count) }
            clientMsPerItem = rounded(client * 1000 / count)
            serverLimitedRate = server.flatMap { seconds in
                seconds > 0 ? (Double(ProcessInfo.processInfo.activeProcessorCount) * count / seconds).rounded() : nil
            }
        }
    }

    package struct Workers: Codable, Sendable {
        /// VmHWM of each worker process (kB), sampled every 20 ms while it ran (a high-water mark:
        /// only growth in a worker's last 20 ms could be missed); empty for in-process workers.
        ///
        /// Not getrusage(RUSAGE_CHILDREN): a child's ru_maxrss starts at its parent's resident set
        /// (Linux keeps the high-water mark of the memory shared until exec), and it covers every
        /// child of the process, the tests' own included.
        package var peakRSSKiB: [Int]
        package var outcomes: [String: Int]
        package var emails: Int
        /// Due queue rows left after the workers stopped (0 when they drained the queue).
        package var dueLeft: Int

        // Spelled out, as for the machine's memory: snake case would write "peak_rss_ki_b".
        enum CodingKeys: String, CodingKey {
            case outcomes, emails, dueLeft
            case peakRSSKiB = "peak_rss_kib"
        }
    }

    /// A speed limit measured in the same run on the same database: the least a phase's work
    /// costs in plain SQL.
    package struct Baseline: Codable, Sendable {
        package var method: String
        package var connections: Int
        package var batch: Int
        package var rows: Int
        package var seconds: Double
        package var rate: Double
        /// The product's rate over this one: the workers' end-to-end dossier rate for the queue
        /// loop (`baseline`), the import's for the bare copy (`import_floor`).
        package var ratio: Double
        package var cpu: CPU?
        package var walBytesPerItem: Double?
    }

    package struct Latency: Codable, Sendable {
        package var samples: Int
        package var method: String
        /// Import commit → decision commit, server clock (pg_xact_commit_timestamp), when available.
        package var commitToCommitMs: Percentiles?
        /// Import commit acknowledged → decision visible to a client polling every 0.5 ms.
        package var clientObservedMs: Percentiles
    }

    package struct Percentiles: Codable, Sendable {
        package var p50: Double
        package var p90: Double
        package var p99: Double
        package var max: Double

        init(_ values: [Double]) {
            let sorted = values.sorted()
            func at(_ q: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                let value = sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)]
                return (value * 100).rounded() / 100
            }
            p50 = at(0.5)
            p90 = at(0.9)
            p99 = at(0.99)
            max = at(1)
        }
    }

    package struct Depth: Codable, Sendable {
        package var method: String
        package var shallow: Phase
        package var shallowQueued: Int
        package var deep: Phase
        package var deepQueued: Int
        package var deepImport: Phase
        /// deep rate / shallow rate.
        package var ratio: Double
    }

    package var machine: Machine
    package var database: DatabaseSettings
    package var parameters: Parameters
    package var phases: [Phase]
    package var workers: Workers
    /// The plain-SQL queue loop: the processing's speed limit.
    package var baseline: Baseline?
    /// The lines copied bare into a jsonb column: the import's speed limit.
    package var importFloor: Baseline?
    package var latency: Latency?
    package var depth: Depth?
    package var notes: [String]

    /// The phase called `name`.
    package func phase(_ name: String) -> Phase? {
        phases.first { $0.name == name }
    }
}

extension BenchReport.Machine {
    /// This machine, as /proc describes it.
    static func current(postgres: String) -> Self {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
            ?? "unknown"
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Self(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryMiB: Int(ProcessInfo.processInfo.physicalMemory / (1 << 20)), cpu: model, kernel: "Linux \(release)",
            postgres: postgres)
    }
}
