// Open-addressing hash maps from integers to dense Int32 ids. The checker looks up every key and element of
// every read; Swift's Dictionary hashes with SipHash and costs several times more per lookup than a
// multiply-shift hash over flat arrays, which is enough here because the inputs are not adversarial in a way
// that matters: a bad spread only slows the check down, it cannot change a verdict.

@inline(__always) func mixHash(_ x: UInt64) -> UInt64 {
    // The finalizer of SplitMix64: every input bit affects every output bit.
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Int64 → Int32 (values ≥ 0).
struct Int64Map {
    private var keys: [Int64]
    private var values: [Int32]      // -1 = empty slot
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
    }

    func get(_ key: Int64) -> Int32? {
        var slot = Int(truncatingIfNeeded: mixHash(UInt64(bitPattern: key))) & mask
        while true {
            let v = values[slot]
            if v < 0 { return nil }
            if keys[slot] == key { return v }
            slot = (slot + 1) & mask
        }
    }

    /// Sets the value for `key`, returning the previous one.
    @discardableResult
    mutating func set(_ key: Int64, _ value: Int32) -> Int32? {
        if (count + 1) * 2 > keys.count { grow() }
        var slot = Int(truncatingIfNeeded: mixHash(UInt64(bitPattern: key))) & mask
        while true {
            let v = values[slot]
            if v < 0 {
                keys[slot] = key
                values[slot] = value
                count += 1
                return nil
            }
            if keys[slot] == key {
                values[slot] = value
                return v
            }
            slot = (slot + 1) & mask
        }
    }

    /// The id of `key`, assigning `next` (and returning it) when the key is new.
    mutating func intern(_ key: Int64, next: Int32) -> Int32 {
        if let v = get(key) { return v }
        set(key, next)
        return next
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        let size = keys.count * 2
        keys = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
        count = 0
        for i in 0..<oldKeys.count where oldValues[i] >= 0 { set(oldKeys[i], oldValues[i]) }
    }
}

/// (Int32, Int64) → Int32 (values ≥ 0): a list-append element of a key, to the append that wrote it.
struct PairMap {
    private var firsts: [Int32]
    private var seconds: [Int64]
    private var values: [Int32]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        firsts = Array(repeating: 0, count: size)
        seconds = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always) private func hash(_ a: Int32, _ b: Int64) -> Int {
        Int(truncatingIfNeeded: mixHash(UInt64(bitPattern: b) &+ UInt64(UInt32(bitPattern: a)) &* 0x2545_F491_4F6C_DD1D)) & mask
    }

    func get(_ a: Int32, _ b: Int64) -> Int32? {
        var slot = hash(a, b)
        while true {
            let v = values[slot]
            if v < 0 { return nil }
            if seconds[slot] == b && firsts[slot] == a { return v }
            slot = (slot + 1) & mask
        }
    }

    /// Inserts unless present; returns the existing value when there is one.
    mutating func insert(_ a: Int32, _ b: Int64, _ value: Int32) -> Int32? {
        if (count + 1) * 2 > values.count { grow() }
        var slot = hash(a, b)
        while true {
            let v = values[slot]
            if v < 0 {
                firsts[slot] = a
                seconds[slot] = b
                values[slot] = value
                count += 1
                return nil
            }
            if seconds[slot] == b && firsts[slot] == a { return v }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let f = firsts, s = seconds, v = values
        let size = values.count * 2
        firsts = Array(repeating: 0, count: size)
        seconds = Array(repeating: 0, count: size)
        values = Array(repeating: -1, count: size)
        mask = size - 1
        count = 0
        for i in 0..<v.count where v[i] >= 0 { _ = insert(f[i], s[i], v[i]) }
    }
}
