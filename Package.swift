// swift-tools-version:6.0
// dqlite in Swift: SQLite replicated with C-Raft, its wire client, tools and chaos test bed.
import PackageDescription

let package = Package(
    name: "dqlite-swift",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "DqliteWire", targets: ["DqliteWire"]),
        .library(name: "DqliteClient", targets: ["DqliteClient"]),
        .library(name: "DqliteNode", targets: ["DqliteNode"]),
        .library(name: "DqliteApp", targets: ["DqliteApp"]),
        .executable(name: "dqlite", targets: ["dqlite"]),
        .executable(name: "dqlite-bench", targets: ["dqlite-bench"]),
        .executable(name: "dqlite-node", targets: ["dqlite-node"]),
        .executable(name: "dqlite-demo", targets: ["dqlite-demo"]),
        .executable(name: "dqlite-chaos", targets: ["dqlite-chaos"]),
        .executable(name: "dqlite-disk-faults", targets: ["dqlite-disk-faults"]),
        .library(name: "dqlite-clock-faults", type: .dynamic, targets: ["DqliteClockFaults"]),
        .executable(name: "dqlite-power-loss", targets: ["dqlite-power-loss"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Logging with levels for the node (DESIGN.md, dependencies).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Scenario files are YAML (DESIGN.md, dependencies).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // The demo's HTTP server: FlyingFox, async/await HTTP on plain sockets with no dependencies of its own
        // (SwiftNIO-based servers such as Hummingbird cost 2.5-4.5 minutes of each CI build here).
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        // Metrics: the node reports through swift-metrics (CoreMetrics: any backend), and the app exposes them
        // with swift-prometheus, the SSWG's Prometheus backend (issue 20).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // System libraries from Debian's -dev packages (installed by harness/bootstrap.sh).
        .systemLibrary(name: "CRaft", path: "Sources/CRaft", pkgConfig: "raft", providers: [.apt(["libraft-dev"])]),
        .systemLibrary(name: "CUV", path: "Sources/CUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // epoll and eventfd for the client's event loop (headers of libc; nothing to link).
        .systemLibrary(name: "CLinuxEvents", path: "Sources/CLinuxEvents"),
        // mallopt for the node binary (MallocPolicy; a libc header, nothing to link).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSeccomp", path: "Sources/CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        // Line editing and history for the interactive shell (libedit's readline, BSD-licensed).
        .systemLibrary(name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),

        // io_destroy of C-Raft's AIO contexts finished on a helper thread (see its source): linked into the
        // node, it keeps segment closes from stalling the loop thread for an RCU grace period.
        .target(name: "CAIODestroy", path: "Sources/CAIODestroy"),
        // pipe2 and posix_spawn's closefrom for children that inherit nothing but stdio (LocalCluster.ChildProcess).
        .target(name: "CSpawn", path: "Sources/CSpawn"),
        // C-Raft's open segments written with zeros when allocated (see its source): linked into the node, it
        // lets appends overwrite blocks in place instead of waiting for the journal to convert them.
        .target(name: "CSegmentPrefill", path: "Sources/CSegmentPrefill"),
        // sync_file_range, which Swift's Glibc module does not expose (SnapshotWriteback).
        .target(name: "CWriteback", path: "Sources/CWriteback"),
        // Mutual TLS on OpenSSL (Debian's libssl-dev): client sessions on the client's own event loop, and
        // tunnels on threads for the node's listener and its C-Raft streams, which it cannot wrap (issue 20).
        .target(name: "CTLS", path: "Sources/CTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // Protocol v1 codecs: pure values, no I/O.
        .target(name: "DqliteWire"),
        // The node: replicating VFS, FSM, Raft glue, gateway (issue 3; in progress).
        .target(name: "DqliteNode", dependencies: ["DqliteWire", "DqliteClient", "CTLS", "CMalloc", "CWriteback", "CSQLite", "CRaft", "CUV", "CLZ4", .product(name: "Logging", package: "swift-log"),
                                                  .product(name: "CoreMetrics", package: "swift-metrics")]),
        // Async client: dial, leader discovery, retry, statements, rows, transactions, admin.
        .target(name: "DqliteClient", dependencies: ["DqliteWire", "CLinuxEvents", "CTLS"]),
        // Flags the executables share (TLS).
        .target(name: "DqliteFlags", dependencies: ["DqliteClient", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // The logic of the `dqlite` shell and of `dqlite-bench`; the executables only parse flags.
        .target(name: "DqliteShell", dependencies: ["DqliteClient", "CEditLine", "CSQLite"]),
        .target(name: "DqliteBench", dependencies: ["DqliteClient"]),
        // The embeddable app (issue 19), under way: its role policy so far.
        // The embeddable app: the node, its join and role policy, and what the node binary's performance rests on
        // (the two C-Raft workarounds link in with it; the malloc policy is an option, on by default).
        .target(name: "DqliteApp", dependencies: ["DqliteNode", "DqliteClient", "DqliteWire", "CAIODestroy", "CSegmentPrefill", "CMalloc",
                                                 .product(name: "Logging", package: "swift-log"), .product(name: "FlyingFox", package: "FlyingFox"),
                                                 .product(name: "CoreMetrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus")]),
        // Starts and stops real dqlite clusters (Debian's dqlite-demo) for tests and the demo job.
        .target(name: "LocalCluster", dependencies: ["DqliteClient", "CSpawn"]),
        // The chaos test bed: scenarios, a cluster of node processes, faults, workloads, histories, seeds.
        .target(name: "Chaos", dependencies: ["DqliteClient", "LocalCluster", "CSQLite", "Checker", .product(name: "Yams", package: "Yams")]),
        // History parser and consistency checkers (list-append, set, register): pure, no dependencies.
        .target(name: "Checker"),

        .executableTarget(name: "dqlite", dependencies: [
            "DqliteFlags", "DqliteShell", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "dqlite-bench", dependencies: [
            "DqliteFlags", "DqliteBench", "LocalCluster", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .target(name: "DemoServer", dependencies: ["DqliteApp", "DqliteClient", .product(name: "FlyingFox", package: "FlyingFox")]),
        .executableTarget(name: "dqlite-demo", dependencies: [
            "DqliteFlags", "DemoServer", "DqliteApp", .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "dqlite-node", dependencies: [
            "DqliteFlags", "DqliteApp", "DqliteNode", "DqliteClient", "CAIODestroy", "CSegmentPrefill", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "dqlite-chaos", dependencies: [
            "Chaos", "Checker", "LocalCluster", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The seccomp launcher of disk faults (EIO, ENOSPC): C, because it must stay single-threaded until it
        // execs the node (DESIGN.md, decision 6). The chaos runner wraps nodes in it.
        .executableTarget(name: "dqlite-disk-faults", dependencies: ["CSeccomp"], path: "harness/disk-faults"),
        // LD_PRELOAD library for the bed's clock faults. Nothing links it: it would bend the linking process's own clocks.
        .target(name: "DqliteClockFaults", path: "harness/clock-faults", linkerSettings: [.linkedLibrary("dl")]),
        // The FUSE passthrough of power-loss faults (libfuse3 from Debian's libfuse3-dev): it forgets what was
        // not synced when the bed cuts a node's power. C, as the seccomp launcher: a thin layer over a C API.
        .executableTarget(name: "dqlite-power-loss", path: "harness/power-loss",
                          cSettings: [.define("_FILE_OFFSET_BITS", to: "64")], linkerSettings: [.linkedLibrary("fuse3")]),

        .testTarget(name: "SystemLibrariesTests", dependencies: ["CRaft", "CUV", "CSQLite", "CSeccomp"]),
        .testTarget(name: "DqliteWireTests", dependencies: ["DqliteWire"]),
        .testTarget(name: "DqliteNodeTests", dependencies: ["DqliteNode", "CSQLite", "CLZ4", "DqliteClient", "LocalCluster", "dqlite-node"]),
        .testTarget(name: "DqliteClientTests", dependencies: ["DqliteClient", "LocalCluster", "dqlite-node"]),
        .testTarget(name: "DqliteShellTests", dependencies: ["DqliteShell", "LocalCluster", "dqlite", "dqlite-node"]),
        .testTarget(name: "DemoServerTests", dependencies: ["DemoServer", "LocalCluster", "dqlite-demo"]),
        .testTarget(name: "DqliteAppTests", dependencies: ["Checker", "DqliteApp", "DqliteClient", "LocalCluster", "dqlite-node"]),
        .testTarget(name: "DqliteBenchTests", dependencies: ["DqliteBench", "LocalCluster", "dqlite-bench"]),
        .testTarget(name: "LocalClusterTests", dependencies: ["LocalCluster"]),
        .testTarget(name: "ClockFaultsTests", dependencies: ["LocalCluster", "DqliteClient", "dqlite-node"]),
        .testTarget(name: "ChaosTests", dependencies: ["Chaos", "Checker", "LocalCluster", "dqlite-node", "dqlite-disk-faults", "dqlite-power-loss", "dqlite-chaos"]),
        // The corpus histories are read by the tests from their source path, not bundled.
        .testTarget(name: "CheckerTests", dependencies: ["Checker", "LocalCluster", "dqlite-chaos"], exclude: ["Corpus"]),
    ],
    swiftLanguageModes: [.v6]
)
