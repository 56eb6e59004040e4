import XCTest
import DqliteWire

/// A deterministic generator (SplitMix64) so that a failing buffer can be reproduced from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Decoding is total: random and mutated input gives a value or a `WireError`, never a trap (a trap would kill
/// the test process) and never an allocation sized by the input's own counts.
final class FuzzTests: XCTestCase {
    static let iterations = 120_000

    private func decodeEverything(_ bytes: [UInt8], outcomes: inout [String: Int]) {
        func note(_ r: Result<some Any, WireError>) {
            switch r {
            case .success: outcomes["ok", default: 0] += 1
            case .failure(let e): outcomes[String(describing: e).prefix(while: { $0 != "(" }).description, default: 0] += 1
            }
        }
        note(Result { () throws(WireError) in try ProtocolVersion.decode(Array(bytes.prefix(8))) })
        guard bytes.count >= 8 else { return }
        let head = Array(bytes[0..<8]), body = Array(bytes[8...])
        note(Result { () throws(WireError) in try MessageHeader.decode(head) })
        for type in [head[4] % 24, head[4]] {
            let header = MessageHeader(words: UInt32(body.count / 8), type: type, schema: head[5] % 3)
            note(Result { () throws(WireError) in try Request.decode(header: header, body: body) })
            for context in [ResponseContext(), ResponseContext(clusterFormat: .v0, legacy: true)] {
                note(Result { () throws(WireError) in try Response.decode(header: header, body: body, context: context) })
            }
        }
        var r = WireReader(body)
        note(Result { () throws(WireError) in try RowTuple.decode(columns: Int(head[0] % 40), from: &r) })
    }

    func testRandomAndMutatedBuffersNeverCrash() throws {
        var rng = SplitMix64(state: 0xD0_1173)
        let seeds = try Samples.requests.map { try $0.encoded() } + Samples.responses.map { try $0.encoded() }
        var outcomes: [String: Int] = [:]
        for i in 0..<Self.iterations {
            var bytes: [UInt8]
            if i % 3 == 0 {
                // Pure noise of random length (word-aligned most of the time).
                let n = Int.random(in: 0...256, using: &rng) & (i % 2 == 0 ? ~7 : ~0)
                bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                // A valid message with a few bytes flipped, truncated, or extended.
                bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    let at = Int.random(in: 0..<bytes.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                    case 1: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                    case 2: bytes.removeLast(Int.random(in: 0...min(16, bytes.count), using: &rng))
                    default: bytes += [0xFF, 0xEE, 0, 1, 9, 10, 11, 0x80].shuffled(using: &rng)
                    }
                }
            }
            decodeEverything(bytes, outcomes: &outcomes)
        }
        // The mutations reach deep into the decoders: many outcomes, both successes and several error kinds.
        XCTAssertGreaterThan(outcomes["ok", default: 0], 1000)
        XCTAssertGreaterThanOrEqual(outcomes.keys.count, 8, "\(outcomes)")
    }
}
