import Testing

@testable import BackOffice

/// The pauses between reconnections grow, stop growing at the cap, and are spread at random over
/// the upper half of each step, so that workers that lost the same server come back apart.
@Suite struct ReconnectBackoffTests {
    @Test func pausesDoubleUpToTheCapWithinTheirUpperHalf() {
        var backoff = ReconnectBackoff()
        var ceiling = Duration.milliseconds(200)
        for _ in 0..<30 {
            let pause = backoff.next()
            #expect(pause >= ceiling / 2 && pause <= ceiling, "\(pause) outside \(ceiling / 2)…\(ceiling)")
            ceiling = min(ceiling * 2, .seconds(30))
        }
    }

    @Test func aSuccessStartsAgainFromTheShortestPause() {
        var backoff = ReconnectBackoff()
        for _ in 0..<10 { _ = backoff.next() }
        backoff.reset()
        #expect(backoff.next() <= .milliseconds(200))
    }

    @Test func pausesAreNotAllTheSame() {
        var backoff = ReconnectBackoff()
        let pauses = (0..<20).map { _ -> Duration in
            backoff.reset()
            return backoff.next()
        }
        #expect(Set(pauses.map { $0.components.attoseconds }).count > 1)
    }
}
