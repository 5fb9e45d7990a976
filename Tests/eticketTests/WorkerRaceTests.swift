import Foundation
import LocalPostgres
import Postgres
import TestSupport
import Testing

/// Worker processes racing, killed and cut off from their database, on `Load.count` queued dossiers.
///
/// Serialized: each test keeps both cores busy.
@Suite("Workers under load", .serialized, .tags(.e2e, .chaos))
struct WorkerRaceTests {
    @Test(arguments: [2, 4])
    func supervisedWorkersDecideEachDossierOnce(processes: Int) throws {
        let conninfo = try Databases.withLoad()
        let database = Database(conninfo: conninfo)
        #expect(try database.count("SELECT count(*) FROM dossier_queue") == Load.count)

        let worker = try Child(["worker", "--processes", "\(processes)", "--poll-interval", "0.2", "--database-url", conninfo])
        defer { worker.kill() }
        let drained = try database.wait(until: "SELECT count(*) FROM dossier_queue", equals: 0, timeout: 120)
        worker.signal(SIGTERM)
        let signaled = ContinuousClock.now
        let result = worker.wait(timeout: 20)
        let stopping = (ContinuousClock.now - signaled).secondsValue
        #expect(result.status == 0 && !result.signaled, "\(result.stderr.suffix(2000))")

        try database.expectEachDecidedOnce()
        let deciders = try database.strings("SELECT decided_by || ' ' || count(*) FROM decisions GROUP BY decided_by ORDER BY 1")
        print(
            "\(processes) processes: \(Load.count) dossiers drained in \(String(format: "%.2f", drained)) s, "
                + "stopped \(String(format: "%.2f", stopping)) s after SIGTERM; decisions per worker: \(deciders)")
        #expect(deciders.count >= 2, "only one worker decided: \(deciders)")
        #expect(!result.stderr.contains("worker process ended"), "a worker died: \(result.stderr.suffix(2000))")
    }

    @Test func aWorkerKilledMidBatchLosesNothingAndDelaysNothing() throws {
        let conninfo = try Databases.withLoad()
        let database = Database(conninfo: conninfo)

        let batch = Load.count / 4
        let worker = try Child(["worker", "--batch-size", "\(batch)", "--poll-interval", "0.2", "--database-url", conninfo])
        defer { worker.kill() }
        // Kill as soon as the first batch is committed, so that the second is in hand.
        let deadline = ContinuousClock.now + .seconds(60)
        while worker.isRunning, ContinuousClock.now < deadline, (try? database.count("SELECT count(*) FROM decisions")) ?? 0 == 0
        {
            usleep(5_000)
        }
        let killedAt = (ContinuousClock.now - worker.started).secondsValue
        worker.signal(SIGKILL)
        let killed = worker.wait(timeout: 10)
        #expect(killed.signaled && killed.status == SIGKILL)

        let decided = try database.count("SELECT count(*) FROM decisions")
        #expect(decided > 0 && decided < Load.count, "killed at \(decided) decisions")
        #expect(decided % batch == 0, "a batch was half kept: \(decided) decisions")
        try database.expectConsistent()

        let rerun = try CLI.succeed(["worker", "--once", "--batch-size", "\(batch)"], database: conninfo, timeout: 120)
        print(
            "SIGKILL \(String(format: "%.2f", killedAt)) s after start with \(decided) decided; "
                + "worker --once finished the rest in \(String(format: "%.2f", rerun.seconds)) s: \(rerun.stdout)")
        #expect(rerun.stdout.contains("processed \(Load.count - decided)"), "\(rerun.stdout)")
        // No lease to wait out: the killed worker's rows were free as soon as its connection closed.
        #expect(rerun.seconds < 60)
        try database.expectEachDecidedOnce()
    }

    /// One SIGTERM mid-batch: the batch in hand is committed, then exit 0. A second one: exit at
    /// once (130), the open transaction rolled back. Either way nothing is half written.
    ///
    /// "Mid-batch" is a state, not a moment: the test holds a lock that the worker's next batch
    /// waits on, signals once the worker is seen waiting on it, and lets go only when the worker has
    /// said it received the signal. No machine is too slow or too fast for that.
    @Test(arguments: [1, 2])
    func aBusyWorkerStopsOnSIGTERM(signals: Int) throws {
        let conninfo = try Databases.withLoad()
        let database = Database(conninfo: conninfo)
        let batch = Load.count / 4
        let worker = try Child(
            ["worker", "--batch-size", "\(batch)", "--poll-interval", "0.2", "--log-level", "info", "--database-url", conninfo])
        defer { worker.kill() }
        try database.wait(until: "SELECT least(count(*), 1) FROM decisions", equals: 1, timeout: 60)

        // Waits for the batch in flight to commit, then stops the next one at its first decision.
        let gate = try Connection(conninfo)
        defer { gate.close() }
        try gate.execute(script: "BEGIN; LOCK TABLE decisions IN SHARE MODE")
        try database.wait(
            until: """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> \(gate.backendPID)
                """,
            equals: 1, timeout: 60)
        let committed = try database.count("SELECT count(*) FROM decisions")

        worker.signal(SIGTERM)
        try waitForOutput(of: worker, containing: "signal received", timeout: 60)
        let ended: CLI.Result
        if signals == 2 {
            worker.signal(SIGTERM)
            ended = worker.wait(timeout: 60)
            try gate.execute(script: "ROLLBACK")
        } else {
            try gate.execute(script: "ROLLBACK")
            ended = worker.wait(timeout: 60)
        }

        let decided = try database.count("SELECT count(*) FROM decisions")
        print("busy worker, \(signals) SIGTERM: exit \(ended.status), \(committed) decided before the signal, \(decided) after")
        #expect(!ended.signaled)
        #expect(ended.status == (signals == 1 ? 0 : 130), "\(ended.stderr.suffix(1000))")
        // One signal: the batch in hand was finished, not dropped. Two: it was rolled back.
        #expect(decided == committed + (signals == 1 ? batch : 0), "\(committed) then \(decided) decided")
        try database.expectConsistent()
    }

    /// Polls the child's standard error until it holds `text`.
    private func waitForOutput(of child: Child, containing text: String, timeout: Double) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while !child.stderr.contains(text) {
            try #require(
                ContinuousClock.now < deadline && child.isRunning, "no \"\(text)\" from the worker: \(child.stderr.suffix(1000))")
            usleep(10_000)
        }
    }

    @Test func aWorkerSurvivesAPostgreSQLRestart() throws {
        let cluster = try LocalCluster.start(options: .init(fastUnsafe: true))
        defer { cluster.stop() }
        let conninfo = cluster.connectionString()
        try Databases.prepareStructures(conninfo)
        try Databases.importLines(Load.lines(), into: conninfo)
        let database = Database(conninfo: conninfo)

        let worker = try Child(["worker", "--poll-interval", "0.2", "--database-url", conninfo])
        defer { worker.kill() }
        let deadline = ContinuousClock.now + .seconds(60)
        while worker.isRunning, ContinuousClock.now < deadline,
            (try? database.count("SELECT count(*) FROM decisions")) ?? 0 < Load.count / 10
        {
            usleep(5_000)
        }
        let before = try database.count("SELECT count(*) FROM decisions")
        let restartStarted = ContinuousClock.now
        try cluster.restart()
        let restart = (ContinuousClock.now - restartStarted).secondsValue
        let after = try database.count("SELECT count(*) FROM decisions")
        #expect(after < Load.count, "the worker had finished before the restart")

        // How long until the worker, reconnected, commits again.
        let resumeDeadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < resumeDeadline, (try? database.count("SELECT count(*) FROM decisions")) ?? 0 <= after {
            usleep(20_000)
        }
        let resumed = (ContinuousClock.now - restartStarted).secondsValue - restart
        let drained = try database.wait(until: "SELECT count(*) FROM dossier_queue", equals: 0, timeout: 120)
        #expect(worker.isRunning, "the worker died: \(worker.stderr.suffix(2000))")
        worker.signal(SIGTERM)
        let result = worker.wait(timeout: 20)
        #expect(result.status == 0 && !result.signaled, "\(result.stderr.suffix(2000))")
        print(
            "restart under a worker: \(before) decided before, restart took \(String(format: "%.2f", restart)) s, "
                + "\(after) decided right after, next commit \(String(format: "%.2f", resumed)) s after the restart, drained \(String(format: "%.2f", drained)) s later; "
                + "reconnections: \(result.stderr.components(separatedBy: "worker connected").count - 2)")
        #expect(result.stderr.components(separatedBy: "worker connected").count - 1 >= 2, "no reconnection logged")
        try database.expectEachDecidedOnce()
    }
}

@Suite("The supervisor", .tags(.e2e))
struct SupervisorTests {
    @Test func aWorkerProcessThatDiesIsReplaced() throws {
        let conninfo = try Databases.withStructures()
        let supervisor = try Child(["worker", "--processes", "2", "--poll-interval", "0.2", "--database-url", conninfo])
        defer { supervisor.kill() }
        func workers() -> [pid_t] { Child.descendants(of: supervisor.pid) }
        let deadline = ContinuousClock.now + .seconds(30)
        while workers().count < 2, ContinuousClock.now < deadline { usleep(50_000) }
        let first = workers()
        #expect(first.count == 2)
        kill(try #require(first.first), SIGKILL)
        var replaced: [pid_t] = []
        while ContinuousClock.now < deadline {
            replaced = workers()
            if replaced.count == 2, !replaced.contains(first[0]) { break }
            usleep(50_000)
        }
        #expect(replaced.count == 2 && !replaced.contains(first[0]), "the dead worker was not replaced: \(replaced)")
        #expect(supervisor.isRunning)
        supervisor.signal(SIGTERM)
        let result = supervisor.wait(timeout: 20)
        #expect(result.status == 0, "\(result.stderr.suffix(1000))")
        #expect(result.stderr.contains("worker process ended"))
    }

    /// A supervisor killed outright takes its workers with it, and its replacement runs N, not 2N.
    @Test func workersEndWithTheirSupervisorAndItsReplacementDoesNotDoubleThem() throws {
        let conninfo = try Databases.withStructures()
        let database = Database(conninfo: conninfo)
        let connected = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"

        let first = try Child(["worker", "--processes", "2", "--poll-interval", "0.2", "--database-url", conninfo])
        defer { first.kill() }
        try database.wait(until: connected, equals: 2, timeout: 60)
        let workers = Child.descendants(of: first.pid)
        #expect(workers.count == 2, "\(workers)")

        first.signal(SIGKILL)
        _ = first.wait(timeout: 10)
        try waitUntilEnded(workers, timeout: 30)
        try database.wait(until: connected, equals: 0, timeout: 30)

        let replacement = try Child(["worker", "--processes", "2", "--poll-interval", "0.2", "--database-url", conninfo])
        defer { replacement.kill() }
        try database.wait(until: connected, equals: 2, timeout: 60)
        #expect(Child.descendants(of: replacement.pid).count == 2)
        replacement.signal(SIGTERM)
        let stopped = replacement.wait(timeout: 30)
        #expect(stopped.status == 0 && !stopped.signaled, "\(stopped.stderr.suffix(1000))")
    }

    /// Waits until none of `pids` runs any more (gone, or a zombie that nobody has reaped yet).
    private func waitUntilEnded(_ pids: [pid_t], timeout: Double) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        func running(_ pid: pid_t) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.range(of: ")", options: .backwards)
            else { return false }
            return !stat[close.upperBound...].hasPrefix(" Z")
        }
        while pids.contains(where: running) {
            try #require(
                ContinuousClock.now < deadline, "workers still running after their supervisor was killed: \(pids.filter(running))"
            )
            usleep(20_000)
        }
    }
}
