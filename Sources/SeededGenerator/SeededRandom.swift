/// A small, fast, seeded pseudo-random generator (SplitMix64): the same seed gives the same
/// sequence on every machine and every run, so that two benchmark runs judge the same work and a
/// failing fuzz or chaos case can be replayed from its seed.
///
/// The benchmark and the tests use it; the shipped `eticket` does not link it.
package struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    package init(seed: UInt64) {
        state = seed
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<bound` (`bound` at least 1).
    package mutating func below(_ bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }

    /// True with the given probability (0…1).
    package mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    /// One of `items` (not empty).
    package mutating func pick<T>(_ items: [T]) -> T {
        items[below(items.count)]
    }
}
