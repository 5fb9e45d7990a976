import BackOffice
import Foundation

/// What `eticket bench` measured; encoded as JSON for `--format json`.
public struct BenchReport: Codable, Sendable {
    public struct Machine: Codable, Sendable {
        public var cores: Int
        public var memoryMiB: Int
        public var cpu: String
        public var kernel: String
        public var postgres: String

        // Spelled out: snake case would write "memory_mi_b".
        enum CodingKeys: String, CodingKey {
            case cores, cpu, kernel, postgres
            case memoryMiB = "memory_mib"
        }
    }

    /// The server settings that decide what a commit costs.
    public struct DatabaseSettings: Codable, Sendable {
        /// Whether the benchmark started its own throw-away cluster (on this machine).
        public var localCluster: Bool
        public var fsync: String
        public var synchronousCommit: String
        public var fullPageWrites: String
        public var walSyncMethod: String
        public var sharedBuffers: String
        public var trackCommitTimestamp: String
    }

    public struct Parameters: Codable, Sendable {
        public var dossiers: Int
        public var workers: Int
        public var batch: Int
        public var incomplete: Double
        public var seed: UInt64
    }

    public struct Phase: Codable, Sendable {
        public var name: String
        public var count: Int
        public var seconds: Double
        /// count / seconds.
        public var rate: Double
        /// Where the phase's CPU time went; absent for phases not measured that way.
        public var cpu: CPU?
        /// WAL the server wrote during the phase, per item; absent for phases not measured that way.
        public var walBytesPerItem: Double?
        /// The statements that took the server the most time, costliest first; absent where
        /// pg_stat_statements cannot be read.
        public var statements: [StatementCost]?
        /// Top-level statements per batch (a worker's batch, an import transaction; BEGIN, COMMIT
        /// and SAVEPOINT included), from pg_stat_statements: the round trips a batch costs.
        public var statementsPerBatch: Double?

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
    public struct StatementCost: Codable, Sendable {
        /// The normalised statement, on one line, cut at 120 characters.
        public var query: String
        public var calls: Int
        public var rows: Int
        public var msPerItem: Double
        public var walBytesPerItem: Double
        /// Of the phase's top-level statement time.
        public var share: Double
    }

    /// CPU time used during a phase, by side (getrusage for the client, /proc for the server).
    public struct CPU: Codable, Sendable {
        /// Every process under the postmaster: the phase's backends, and whatever else the
        /// server did meanwhile (autovacuum, the checkpointer, the WAL writer, other sessions).
        /// Absent when the server is not on this machine.
        public var serverSeconds: Double?
        /// This process (import, baseline, and workers run as threads) or the worker processes
        /// it waited for (process).
        public var clientSeconds: Double
        /// `serverSeconds` per item of the phase (dossier, row), in milliseconds.
        public var serverMsPerItem: Double?
        /// `clientSeconds` per item of the phase, in milliseconds.
        public var clientMsPerItem: Double
        /// The rate the server's share alone allows: this machine's cores (as the process sees
        /// them) ÷ server CPU per item. What an infinitely fast client would reach, were the
        /// server's work spread evenly over every core.
        public var serverLimitedRate: Double?

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

    public struct Workers: Codable, Sendable {
        /// VmHWM of each worker process (kB), sampled every 20 ms while it ran (a high-water mark:
        /// only growth in a worker's last 20 ms could be missed); empty for in-process workers.
        ///
        /// Not getrusage(RUSAGE_CHILDREN): a child's ru_maxrss starts at its parent's resident set
        /// (Linux keeps the high-water mark of the memory shared until exec), and it covers every
        /// child of the process, the tests' own included.
        public var peakRSSKiB: [Int]
        public var outcomes: [String: Int]
        public var emails: Int
        /// Due queue rows left after the workers stopped (0 when they drained the queue).
        public var dueLeft: Int

        // Spelled out, as for the machine's memory: snake case would write "peak_rss_ki_b".
        enum CodingKeys: String, CodingKey {
            case outcomes, emails, dueLeft
            case peakRSSKiB = "peak_rss_kib"
        }
    }

    /// A speed limit measured in the same run on the same database: the least a phase's work
    /// costs in plain SQL.
    public struct Baseline: Codable, Sendable {
        public var method: String
        public var connections: Int
        public var batch: Int
        public var rows: Int
        public var seconds: Double
        public var rate: Double
        /// The product's rate over this one: the workers' end-to-end dossier rate for the queue
        /// loop (`baseline`), the import's for the bare copy (`import_floor`).
        public var ratio: Double
        public var cpu: CPU?
        public var walBytesPerItem: Double?
    }

    public struct Latency: Codable, Sendable {
        public var samples: Int
        public var method: String
        /// Import commit → decision commit, server clock (pg_xact_commit_timestamp), when available.
        public var commitToCommitMs: Percentiles?
        /// Import commit acknowledged → decision visible to a client polling every 0.5 ms.
        public var clientObservedMs: Percentiles
    }

    public struct Percentiles: Codable, Sendable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var max: Double

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

    public struct Depth: Codable, Sendable {
        public var method: String
        public var shallow: Phase
        public var shallowQueued: Int
        public var deep: Phase
        public var deepQueued: Int
        public var deepImport: Phase
        /// deep rate / shallow rate.
        public var ratio: Double
    }

    public var machine: Machine
    public var database: DatabaseSettings
    public var parameters: Parameters
    public var phases: [Phase]
    public var workers: Workers
    /// The plain-SQL queue loop: the processing's speed limit.
    public var baseline: Baseline?
    /// The lines copied bare into a jsonb column: the import's speed limit.
    public var importFloor: Baseline?
    public var latency: Latency?
    public var depth: Depth?
    public var notes: [String]

    /// The phase called `name`.
    public func phase(_ name: String) -> Phase? {
        phases.first { $0.name == name }
    }
}

extension BenchReport.Machine {
    /// This machine, as /proc describes it.
    static func current(postgres: String) -> Self {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Self(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryMiB: Int(ProcessInfo.processInfo.physicalMemory / (1 << 20)), cpu: model, kernel: "Linux \(release)",
            postgres: postgres)
    }
}
