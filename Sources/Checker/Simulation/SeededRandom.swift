/// SplitMix64: small, fast, and the same sequence for the same seed on every platform, so a generated
/// history is reproducible from its seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mixHash(state &- 0x9E37_79B9_7F4A_7C15)
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }

    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
