import ArgumentParser
import Checker
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `dqlite-chaos bench-check`: how fast the checker is, on generated histories that are valid by construction.
struct BenchCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-check",
        abstract: "Generate histories (deterministic by seed), write them to a temp file, and time parsing and checking.",
        discussion: """
            list-append: prints the time split (parse / graph building / cycle search), transactions per second
            and peak RSS (VmHWM). register: generates --histories histories of --operations operations each
            and times the linearizability decision of each.
            """
    )

    @Option(help: "list-append or register.")
    var model: String = "list-append"

    @Option(help: "list-append: transactions to generate.")
    var transactions: Int = 100_000

    @Option(help: "Concurrent clients (a crashed client continues as a new process).")
    var processes: Int = 10

    @Option(help: "list-append: keys in use at once (each retired after --max-writes-per-key appends); register: keys.")
    var keys: Int?

    @Option(help: "list-append: appends per key before it is retired.")
    var maxWritesPerKey: Int = 32

    @Option(help: "Fraction of operations whose client crashes (info, or no completion).")
    var infoRate: Double = 0.03

    @Option(help: "Seed of the generator.")
    var seed: UInt64 = 1

    @Option(help: "register: operations per history.")
    var operations: Int = 1000

    @Option(help: "register: histories to generate and check (seeds seed, seed+1, ...).")
    var histories: Int = 10

    @Option(help: "register: values are drawn from 0..<N (small, as in Jepsen's cas-register tests).")
    var valueRange: Int = 5

    @Flag(help: "register: inject one stale read halfway through each history (times decisions on histories that are not linearizable).")
    var staleRead = false

    @Option(help: "Seconds a check may take before answering unknown.")
    var timeLimit: Double = 600

    @Option(help: "Keep the generated history at this path instead of a temp file that is removed.")
    var keep: String?

    func validate() throws {
        guard model == "list-append" || model == "register" else { throw ValidationError("--model must be list-append or register") }
        guard transactions > 0, processes > 0, operations > 0, histories > 0, maxWritesPerKey > 0, valueRange > 0 else {
            throw ValidationError("counts must be positive")
        }
        if let keys, keys <= 0 { throw ValidationError("--keys must be positive") }
    }

    func run() async throws {
        if model == "list-append" { try await listAppend() } else { try await register() }
    }

    private func listAppend() async throws {
        var sim = ListAppendSimulation()
        sim.transactions = transactions
        sim.processes = processes
        sim.activeKeys = keys ?? 10
        sim.maxWritesPerKey = maxWritesPerKey
        sim.infoRate = infoRate
        let path = keep ?? tempPath("list-append")
        let clock = ContinuousClock()
        let genStart = clock.now
        let bytes = try writeFile(path) { sim.generate(seed: seed, into: $0) }
        print("generated \(transactions) transactions, \(processes) processes, \(sim.activeKeys) active keys, seed \(seed): \(bytes >> 20) MiB in \(secs(clock.now - genStart)) s")
        defer { if keep == nil { unlink(path) } }

        let start = clock.now
        let (history, result) = try await Checker.check(path: path, model: .listAppend, options: options)
        let total = clock.now - start
        let t = result.timings
        let rate = Double(transactions) / max(1e-9, Double(total.components.seconds) + Double(total.components.attoseconds) * 1e-18)
        print("parse \(secs(t.parse)) s | graph \(secs(t.build)) s | cycle search \(secs(t.search)) s | total \(secs(total)) s")
        print("\(Int(rate)) transactions/s | peak RSS \(peakRSSMiB()) MiB | \(history.operations.count) operations | verdict \(result.verdict.rawValue)")
        if result.verdict != .valid {
            print(result.text(history))
            throw ExitCode(1)
        }
    }

    private func register() async throws {
        var sim = RegisterSimulation()
        sim.operations = operations
        sim.processes = processes
        sim.keys = keys ?? 1
        sim.valueRange = valueRange
        sim.infoRate = infoRate
        if staleRead { sim.staleReadAfter = operations / 2 }
        let clock = ContinuousClock()
        var worst = Duration.zero
        var failed = false
        for i in 0..<histories {
            let path = keep.map { histories == 1 ? $0 : "\($0).\(i)" } ?? tempPath("register-\(i)")
            _ = try writeFile(path) { sim.generate(seed: seed &+ UInt64(i), into: $0) }
            defer { if keep == nil { unlink(path) } }
            let start = clock.now
            let (history, result) = try await Checker.check(path: path, model: .casRegister, options: options)
            let took = clock.now - start
            worst = max(worst, took)
            let infos = history.operations.filter { $0.outcome == .info }.count
            let procs = Set(history.operations.map(\.process)).count
            print("history \(i) (seed \(seed &+ UInt64(i))): \(history.operations.count) operations, \(procs) processes, \(infos) info, \(sim.keys) key(s): \(result.verdict.rawValue) in \(secs(took)) s (search \(secs(result.timings.search)) s)")
            if result.verdict != .valid && !staleRead { failed = true; print(result.text(history)) }
        }
        print("slowest decision \(secs(worst)) s | peak RSS \(peakRSSMiB()) MiB")
        if failed { throw ExitCode(1) }
    }

    private var options: CheckOptions { CheckOptions(timeLimit: .milliseconds(Int64(timeLimit * 1000))) }

    private func tempPath(_ what: String) -> String {
        let dir = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        return "\(dir)/dqlite-chaos-bench-\(getpid())-\(what).jsonl"
    }

    /// Writes what `generate` produces to `path`; returns the byte count.
    private func writeFile(_ path: String, _ generate: (HistoryWriter) -> Void) throws -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var total = 0
        var failure: Int32 = 0
        let writer = HistoryWriter { chunk in
            chunk.withUnsafeBytes { b in
                var off = 0
                while off < b.count && failure == 0 {
                    let n = write(fd, b.baseAddress! + off, b.count - off)
                    if n < 0 { if errno != EINTR { failure = errno } } else { off += n }
                }
            }
            total += chunk.count
        }
        generate(writer)
        if failure != 0 { throw ValidationError("cannot write \(path): \(String(cString: strerror(failure)))") }
        return total
    }
}

/// Peak resident set size of this process (VmHWM in /proc/self/status), in MiB; 0 where there is no /proc.
func peakRSSMiB() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmHWM:") {
            let kb = s.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kb / 1024
        }
    }
    return 0
}

func secs(_ d: Duration) -> String {
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return String(Int(ms / 1000)) + "." + String(Int(ms) % 1000).leftPad(3)
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
