#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A clock fault for one process (see `ClockControl`).
public enum ClockFault: Sendable, Equatable {
    /// The wall clock reads real time again; monotonic clocks keep any lead they gathered and run at the
    /// real rate (they never jump back).
    case none
    /// The wall clock steps by this many nanoseconds, forward or back (monotonic clocks do not move).
    case jump(nanoseconds: Int64)
    /// Every clock runs `rate` times as fast as the real ones (0.5: half as fast), from now on.
    case rate(Double)
    /// Every other `periodNs` the wall clock is `amplitudeNs` ahead, then back (Jepsen's strobe).
    case strobe(periodNs: Int64, amplitudeNs: Int64)
}

/// Writes the control file of `libdqlite-clock-faults.so` (harness/clock-faults), which a process started with
/// `LD_PRELOAD` of it and `DQLITE_CLOCK_FAULTS=<path>` reads at every clock call and timed wait. One file per
/// process. The layout is `struct clock_fault` in harness/clock-faults/include/clock_faults.h.
public final class ClockControl: @unchecked Sendable {
    // @unchecked: the mapped file is written only while `state` is locked.
    public let path: String
    private let map: UnsafeMutableRawPointer
    private let state = Mutex<ClockFault>(.none)

    static let magic: UInt64 = 0x324b_434f_4c43_5144
    static let size = 72
    private enum Offset {
        static let sequence = 8, mode = 16, monoOffset = 24, realOffset = 32, anchor = 40, rate = 48, period = 56, strobe = 64
    }

    /// Creates (or resets) the file: no fault.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LocalClusterError.system("open \(path)", errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(Self.size)) == 0,
              let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw LocalClusterError.system("mapping \(path)", errno)
        }
        map = p
        map.storeBytes(of: 1.0, toByteOffset: Offset.rate, as: Double.self)
        map.storeBytes(of: Self.magic, toByteOffset: 0, as: UInt64.self)
    }

    deinit { munmap(map, Self.size) }

    /// The real CLOCK_MONOTONIC (this process is not under the library).
    static func monotonicNs() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }

    private func field<T>(_ offset: Int, _: T.Type) -> T { map.load(fromByteOffset: offset, as: T.self) }

    /// How far the process's monotonic and wall clocks are from the real ones at real monotonic time `now`.
    private func shifts(at now: Int64) -> (mono: Int64, real: Int64) {
        var mono = field(Offset.monoOffset, Int64.self)
        let since = now - field(Offset.anchor, Int64.self)
        let mode = field(Offset.mode, UInt32.self)
        if mode == 1 { mono += Int64(Double(since) * (field(Offset.rate, Double.self) - 1)) }
        let period = field(Offset.period, Int64.self)
        let strobe = mode == 2 && period > 0 && since > 0 && (since / period) % 2 == 1 ? field(Offset.strobe, Int64.self) : 0
        return (mono, mono + field(Offset.realOffset, Int64.self) + strobe)
    }

    /// The process's monotonic lead and wall-clock offset now, in nanoseconds.
    public var shiftNs: (monotonic: Int64, wall: Int64) {
        let s = state.withLock { _ in shifts(at: Self.monotonicNs()) }
        return (s.mono, s.real)
    }

    /// The fault in force.
    public var current: ClockFault { state.withLock { $0 } }

    /// Applies `fault` from now; rates and strobes start from where the clocks are (no jump).
    public func set(_ fault: ClockFault) {
        state.withLock { current in
            let now = Self.monotonicNs()
            let here = shifts(at: now)
            var mode: UInt32 = 0, rate = 1.0, period: Int64 = 0, amplitude: Int64 = 0
            var realOffset = here.real - here.mono  // the wall clock's own offset, strobe included, kept
            switch fault {
            case .none: realOffset = -here.mono
            case .jump(let n): realOffset += n
            case .rate(let r): (mode, rate) = (1, r)
            case .strobe(let p, let a): (mode, period, amplitude) = (2, p, a)
            }
            // Sequence lock: odd while the fields change; a reader retries until it sees the same even value.
            let sequence = field(Offset.sequence, UInt64.self)
            map.storeBytes(of: sequence + 1, toByteOffset: Offset.sequence, as: UInt64.self)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            map.storeBytes(of: mode, toByteOffset: Offset.mode, as: UInt32.self)
            map.storeBytes(of: here.mono, toByteOffset: Offset.monoOffset, as: Int64.self)
            map.storeBytes(of: realOffset, toByteOffset: Offset.realOffset, as: Int64.self)
            map.storeBytes(of: now, toByteOffset: Offset.anchor, as: Int64.self)
            map.storeBytes(of: rate, toByteOffset: Offset.rate, as: Double.self)
            map.storeBytes(of: period, toByteOffset: Offset.period, as: Int64.self)
            map.storeBytes(of: amplitude, toByteOffset: Offset.strobe, as: Int64.self)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            map.storeBytes(of: sequence + 2, toByteOffset: Offset.sequence, as: UInt64.self)
            current = fault
        }
    }
}
