import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite struct ConnectionNotificationsTests {
    @Test func pendingNotificationIsReturnedAtOnce() throws {
        let conninfo = try TestDatabases.shared().create()
        let listener = try Connection(conninfo)
        let sender = try Connection(conninfo)
        try listener.listen("Dossier Queue")
        try sender.notify("Dossier Queue", payload: "dossier 42")
        let notification = try listener.waitForNotification(timeout: .seconds(5))
        #expect(
            notification == PostgresNotification(channel: "Dossier Queue", payload: "dossier 42", backendPID: sender.backendPID))
        #expect(try listener.waitForNotification(timeout: .zero) == nil)
    }

    @Test func waiterInAnotherThreadWakesOnNotify() throws {
        let conninfo = try TestDatabases.shared().create()
        let received = Mutex<Result<PostgresNotification?, PostgresError>?>(nil)
        let listening = DispatchSemaphore(value: 0)
        let done = DispatchSemaphore(value: 0)
        let waiter = Thread {
            do {
                let listener = try Connection(conninfo)
                try listener.listen("queue")
                listening.signal()
                // An hour: the waiter can only be back within the test's wait by the notification.
                let notification = try listener.waitForNotification(timeout: .seconds(3600))
                received.withLock { $0 = .success(notification) }
            } catch let error as PostgresError {
                listening.signal()
                received.withLock { $0 = .failure(error) }
            } catch {}
            done.signal()
        }
        waiter.start()
        listening.wait()
        let sender = try Connection(conninfo)
        try sender.notify("queue", payload: "wake up")
        #expect(done.wait(timeout: .now() + 120) == .success, "the waiter wakes on arrival, not at its timeout")
        let notification = try received.withLock { try $0?.get() }
        #expect(notification?.payload == "wake up")
    }

    @Test func timeoutReturnsNilAfterRoughlyTheTimeoutWithoutSpinning() throws {
        let listener = try freshConnection()
        try listener.listen("quiet")
        let cpuBefore = threadCPUSeconds()
        let start = ContinuousClock.now
        let notification = try listener.waitForNotification(timeout: .milliseconds(500))
        let elapsed = ContinuousClock.now - start
        let cpuSeconds = threadCPUSeconds() - cpuBefore
        #expect(notification == nil)
        #expect(elapsed >= .milliseconds(500))
        #expect(elapsed < .seconds(3))
        // A busy loop would burn about 0.5 s of this thread's CPU.
        #expect(cpuSeconds < 0.1, "waiting must sleep in poll, not spin (CPU \(cpuSeconds) s)")
    }

    @Test func notificationInsideARolledBackTransactionIsNeverDelivered() throws {
        let conninfo = try TestDatabases.shared().create()
        let listener = try Connection(conninfo)
        let sender = try Connection(conninfo)
        try listener.listen("queue")
        struct Abort: Error {}
        _ = try? sender.transaction { sender in
            try sender.notify("queue", payload: "lost")
            throw Abort()
        }
        try sender.transaction { sender in try sender.notify("queue", payload: "kept") }
        #expect(try listener.waitForNotification(timeout: .seconds(5))?.payload == "kept")
    }

    @Test func lostConnectionWhileWaitingThrows() throws {
        let conninfo = try TestDatabases.shared().create()
        let listener = try Connection(conninfo)
        let killer = try Connection(conninfo)
        try listener.listen("queue")
        _ = try serverValue("pg_terminate_backend(\(listener.backendPID))", as: Bool.self, on: killer)
        let error = try #require(throws: PostgresError.self) { try listener.waitForNotification(timeout: .seconds(10)) }
        #expect(error.code == .connectionLost)
    }
}

/// CPU time of the calling thread only, so that tests running in parallel do not count.
private func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
