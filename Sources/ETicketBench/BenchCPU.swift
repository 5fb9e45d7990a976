import BackOffice
import Foundation
import Postgres

/// CPU seconds used so far by each side of a phase, so that every bench run says where the time
/// went: the client (the bench itself, or the worker processes it waited for) and the PostgreSQL
/// server, when it runs on this machine.
struct BenchCPUClock {
    /// The postmaster, whose children are every server process.
    private let postmaster: Int32?

    /// Finds the server's processes through the backend of `connection`, when it is on this
    /// machine: a unix-socket connection whose backend pid is a `postgres` process here.
    init(connection: Connection) {
        let backend = try? connection.query(
            "SELECT pg_backend_pid() AS pid, inet_server_addr() IS NULL AS unix_socket"
        ).first
        guard let backend, (try? backend.decode(Bool.self, "unix_socket")) == true,
            let pid: Int32 = try? backend.decode("pid"), Self.command(of: pid) == "postgres",
            let parent = ProcessStat(pid: pid)?.parent, Self.command(of: parent) == "postgres"
        else {
            postmaster = nil
            return
        }
        postmaster = parent
    }

    /// What each side has used so far.
    struct Reading {
        var server: Double?
        var ownProcess: Double
        var waitedChildren: Double

        /// The CPU used between `start` and this reading, by `client` on the client side.
        func since(_ start: Reading, items: Int, client: ClientSide) -> BenchReport.CPU {
            let clientSeconds =
                switch client {
                case .ownProcess: ownProcess - start.ownProcess
                case .waitedChildren: waitedChildren - start.waitedChildren
                }
            let serverSeconds = server.flatMap { now in start.server.map { now - $0 } }
            return BenchReport.CPU(server: serverSeconds, client: clientSeconds, items: items)
        }
    }

    enum ClientSide {
        /// The bench's own threads (import, baseline, in-process workers).
        case ownProcess
        /// Child processes waited for since (worker processes).
        case waitedChildren
    }

    func read() -> Reading {
        Reading(server: serverSeconds(), ownProcess: Self.rusage(RUSAGE_SELF), waitedChildren: Self.rusage(RUSAGE_CHILDREN))
    }

    /// The postmaster's own time, its reaped children's, and its live children's. A child reaped
    /// while the children are listed would be counted twice or not at all: read again then.
    private func serverSeconds() -> Double? {
        guard let postmaster else { return nil }
        for _ in 0..<10 {
            guard let before = ProcessStat(pid: postmaster) else { return nil }
            let children = Self.children(of: postmaster).reduce(0) { $0 + $1.ownTicks }
            guard let after = ProcessStat(pid: postmaster) else { return nil }
            if after.reapedChildrenTicks == before.reapedChildrenTicks {
                return Double(after.ownTicks + after.reapedChildrenTicks + children) / Self.ticksPerSecond
            }
        }
        return nil
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    private static func children(of parent: Int32) -> [ProcessStat] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.compactMap { ProcessStat(pid: $0) }.filter { $0.parent == parent }
    }

    private static func command(of pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func rusage(_ who: __rusage_who) -> Double {
        var usage = Glibc.rusage()
        getrusage(__rusage_who_t(who.rawValue), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// The fields of /proc/PID/stat the CPU clock needs (proc(5)).
struct ProcessStat {
    var parent: Int32
    /// utime + stime, in clock ticks.
    var ownTicks: Int
    /// cutime + cstime: children this process has waited for.
    var reapedChildrenTicks: Int

    init?(pid: Int32) {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        self.init(statLine: stat)
    }

    /// The command (field 2) is in parentheses and may itself hold spaces and parentheses: the
    /// fields are counted from the last `)`.
    init?(statLine: String) {
        guard let close = statLine.lastIndex(of: ")") else { return nil }
        let fields = statLine[statLine.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): ppid is field 4, utime…cstime fields 14…17.
        guard fields.count > 14, let parent = Int32(fields[1]),
            let utime = Int(fields[11]), let stime = Int(fields[12]),
            let cutime = Int(fields[13]), let cstime = Int(fields[14])
        else { return nil }
        self.parent = parent
        ownTicks = utime + stime
        reapedChildrenTicks = cutime + cstime
    }
}

/// How much WAL the server wrote during a phase: what its commits had to make durable, and the
/// plainest measure of how much a phase asks of the database per item.
struct BenchWALMeter {
    let connection: Connection

    /// The current WAL insert position, or `nil` where the server cannot tell (a standby).
    func position() -> String? {
        try? connection.query("SELECT pg_current_wal_insert_lsn()::text AS lsn").first?.decode(String.self, "lsn")
    }

    /// WAL bytes written from `start` to `end` (both from ``position()``), per item: everything
    /// the server wrote meanwhile, as for the CPU (autovacuum, checkpoints' full-page images).
    func bytesPerItem(from start: String?, to end: String?, items: Int) -> Double? {
        guard let start, let end, items > 0,
            let bytes = try? connection.query(
                "SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::float8 AS bytes", [start, end]
            ).first?.decode(Double.self, "bytes")
        else { return nil }
        return (bytes / Double(items)).rounded()
    }
}

/// What a phase is charged, read at its start and at its end: the CPU of each side, the WAL, and
/// its costliest statements where the server keeps their statistics.
struct BenchMeters {
    let cpu: BenchCPUClock
    let wal: BenchWALMeter
    let statements: BenchStatements?

    /// The meters' readings at one moment.
    struct Mark {
        var cpu: BenchCPUClock.Reading
        var wal: String?
        var statements: BenchStatements.Snapshot?
    }

    /// What a phase cost between two marks.
    struct Costs {
        var cpu: BenchReport.CPU
        var walBytesPerItem: Double?
        var statements: [BenchReport.StatementCost]?
        /// Top-level statements the server ran per batch of the phase.
        var statementsPerBatch: Double?
    }

    func mark() throws -> Mark {
        Mark(cpu: cpu.read(), wal: wal.position(), statements: try statements?.snapshot())
    }

    /// - Parameter batch: items per batch (a worker's batch, an import transaction), for the
    ///   statements per batch: the statements counted over the batches the items make.
    func costs(from start: Mark, to end: Mark, items: Int, batch: Int, client: BenchCPUClock.ClientSide) -> Costs {
        var statementCosts: [BenchReport.StatementCost]?
        var perBatch: Double?
        if let before = start.statements, let after = end.statements {
            statementCosts = BenchStatements.costliest(8, from: before, to: after, items: items)
            let batches = (Double(items) / Double(max(batch, 1))).rounded(.up)
            if batches > 0 {
                perBatch = (Double(BenchStatements.calls(from: before, to: after)) / batches * 10).rounded() / 10
            }
        }
        return Costs(
            cpu: end.cpu.since(start.cpu, items: items, client: client),
            walBytesPerItem: wal.bytesPerItem(from: start.wal, to: end.wal, items: items), statements: statementCosts,
            statementsPerBatch: perBatch)
    }
}
