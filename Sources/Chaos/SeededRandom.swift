/// SplitMix64: every random choice of a run comes from one of these, seeded from the run's seed, so the same
/// seed makes the same decisions (Swift's default generator cannot be seeded).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent stream for a named purpose (a worker, the nemesis), so adding a worker does not change
    /// the faults drawn.
    public func derived(_ purpose: UInt64) -> SeededRandom {
        var copy = SeededRandom(seed: state ^ (purpose &* 0xD1B5_4A32_D192_ED03))
        _ = copy.next()
        return copy
    }

    /// Uniform in [low, high].
    public mutating func uniform(_ range: [Double]) -> Double {
        range[0] + (range[1] - range[0]) * Double(next() >> 11) / Double(1 << 53)
    }
}
