#!/usr/bin/env python3
"""Compare our dqlite-bench with Debian's go-dqlite dqlite-benchmark, in the same run, on 3-node real dqlite
clusters on loopback.

For each worker count, three runs on fresh clusters (all real dqlite 1.11, same binary, same settings):
  go-leader    go's dqlite-benchmark with its driver on node 1, which bootstraps and leads: its client lives
               inside the leader's process (the first setup of its help text);
  go-follower  the same with the driver on node 3, a follower: its client reaches the leader over TCP, as
               every external client does (the second setup of its help text);
  swift        our dqlite-bench, a separate process, driving a 3-node cluster of dqlite-benchmark nodes;
  swift-node   our dqlite-bench driving a 3-node cluster of our dqlite-node (with --node PATH; default
               .build/release/dqlite-node when it exists), default settings (busy timeout 5 s).
Prints ops/s, latency percentiles, errors by class and our client's CPU time per operation, with the medians
over --repeat rounds, plus our/go throughput ratios.

usage: harness/bench_compare.py [--duration 15] [--workers 1,8] [--workload kvwrite] [--repeat 1] [--bench PATH]
       [--ops N] [--before-node PATH: an earlier build of dqlite-node, benchmarked in the same rounds]
Everything it starts is stopped by pid, and its temp dirs are removed, also on failure or Ctrl-C.
"""
import argparse, glob, json, os, shutil, signal, socket, subprocess, sys, tempfile, time

GO_BENCH = "/usr/bin/dqlite-benchmark"
GO_SHELL = "/usr/bin/dqlite"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nodes:
    """Three dqlite-benchmark processes; node 1 bootstraps, the others join it."""

    def __init__(self, root, name, driver_args=None, driver_node=0):
        """driver_args: extra flags that make node `driver_node` the benchmark driver (it gets --cluster too)."""
        def args(i, addr, d, addresses):
            a = [GO_BENCH, "--db", addr, "--dir", d]
            if i > 0:
                a += ["--join", addresses[0]]
            if i == driver_node and driver_args:
                a += ["--driver", "--cluster", ",".join(addresses)] + driver_args
            return a
        self.launch(root, name, args)

    def launch(self, root, name, args):
        """Starts three nodes; args(i, address, dir, addresses) gives node i's command line."""
        self.root = os.path.join(root, name)
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        self.procs = []
        for i, addr in enumerate(self.addresses):
            d = os.path.join(self.root, f"node{i + 1}")
            os.makedirs(d)
            if i > 0:
                time.sleep(0.3)  # node 1 must be up before others join it
            log = open(os.path.join(self.root, f"node{i + 1}.log"), "w")
            self.procs.append(subprocess.Popen(args(i, addr, d, self.addresses), stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))

    def wait_voters(self, timeout=90, shell_args=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run([GO_SHELL, "-s", ",".join(self.addresses)] + list(shell_args) + ["benchmark", ".cluster"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0 and r.stdout.count("|voter") == 3:
                return
            time.sleep(0.5)
        raise RuntimeError(f"cluster {self.addresses} did not get 3 voters; logs in {self.root}")

    def database_mb(self, shell_args=()):
        """The benchmark database's size (its pages, as SQLite counts them), through the leader."""
        r = subprocess.run([GO_SHELL, "-s", ",".join(self.addresses)] + list(shell_args) +
                           ["benchmark", "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"],
                           capture_output=True, text=True, timeout=60)
        try:
            return int(r.stdout.strip()) / 2**20
        except ValueError:
            return None

    def rss_mb(self):
        """Present resident memory of each node (VmRSS)."""
        out = []
        for p in self.procs:
            try:
                out += [int(line.split()[1]) / 1024 for line in open(f"/proc/{p.pid}/status") if line.startswith("VmRSS:")]
            except OSError:
                pass
        return out

    def stop(self):
        # Peak and present resident memory of each node (VmHWM, VmRSS) and what its data dir holds on disk
        # (the Raft log and snapshots), read before the processes go away.
        self.peak_rss_mb, self.rss_end_mb, self.disk_mb = [], [], []
        for i, p in enumerate(self.procs):
            try:
                for line in open(f"/proc/{p.pid}/status"):
                    if line.startswith("VmHWM:"):
                        self.peak_rss_mb.append(int(line.split()[1]) / 1024)
                    elif line.startswith("VmRSS:"):
                        self.rss_end_mb.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
            total = 0
            for d, _, files in os.walk(os.path.join(self.root, f"node{i + 1}")):
                for f in files:
                    try:
                        total += os.path.getsize(os.path.join(d, f))
                    except OSError:
                        pass
            self.disk_mb.append(total / 2**20)
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in self.procs:
            p.wait()


def classify(errors):
    out = {"locked/busy": 0, "not leader": 0, "other": 0}
    for e in errors:
        if "locked" in e or "busy" in e.lower():
            out["locked/busy"] += 1
        elif "not leader" in e:
            out["not leader"] += 1
        else:
            out["other"] += 1
    return out


def percentile(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    import math
    i = max(0, min(len(sorted_ms) - 1, math.ceil(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[i]


def run_go(root, workers, duration, workload, driver_node, tag):
    n = Nodes(root, f"go-{tag}-{workload}-{workers}-{time.time_ns()}",
              ["--workers", str(workers), "--duration", str(duration), "--workload", workload], driver_node)
    try:
        if n.procs[driver_node].wait(timeout=duration + 180) != 0:
            raise RuntimeError(f"dqlite-benchmark driver failed; see {n.root}/node{driver_node + 1}.log")
    finally:
        n.stop()
    out = {}
    for kind in ("exec", "query"):
        ok, errs, lat = 0, [], []
        for f in glob.glob(os.path.join(n.root, f"node{driver_node + 1}", "*", "results", f"*-{kind}-*")):
            section = None
            for line in open(f):
                line = line.rstrip("\n")
                if line.startswith("measurements"):
                    section = "m"; continue
                if line == "errors":
                    section = "e"; continue
                if not line or section is None:
                    continue
                parts = line.split(" ", 1)
                if section == "m":
                    lat.append(float(parts[1])); ok += 1
                else:
                    errs.append(parts[1] if len(parts) > 1 else "")
        lat.sort()
        out[kind] = {"ops_per_s": ok / duration, "ok": ok, "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90),
                     "p99_ms": percentile(lat, 99), "max_ms": lat[-1] if lat else 0.0, "errors": classify(errs),
                     "cpu_us_per_op": None}
    out["peak_rss_mb"] = n.peak_rss_mb
    return out


class SwiftNodes(Nodes):
    """Three dqlite-node processes: id 1 bootstraps, 2 and 3 join it."""

    def __init__(self, root, name, binary, extra=()):
        def args(i, addr, d, addresses):
            # "{port}" in a flag becomes a free port of this node's own (--metrics 127.0.0.1:{port}).
            return ([binary, "--id", str(i + 1), "--address", addr, "--dir", d] + (["--join", addresses[0]] if i > 0 else [])
                    + [x.replace("{port}", str(free_port())) for x in extra])
        self.launch(root, name, args)


def make_certificates(root):
    """A CA and a cluster certificate (DNS name dqlite) with the openssl CLI: (ca, cert, key)."""
    d = os.path.join(root, "tls")
    os.makedirs(d, exist_ok=True)
    ca, cert, key, csr, ext = (os.path.join(d, f) for f in ("ca.crt", "cluster.crt", "cluster.key", "cluster.csr", "ext"))
    open(ext, "w").write("subjectAltName=DNS:dqlite\nextendedKeyUsage=serverAuth,clientAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for cmd in (["req", "-x509"] + ec + ["-days", "30", "-subj", "/CN=bench CA", "-keyout", os.path.join(d, "ca.key"), "-out", ca],
                ["req"] + ec + ["-subj", "/CN=dqlite", "-keyout", key, "-out", csr],
                ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-days", "30",
                 "-extfile", ext, "-out", cert]):
        subprocess.run(["openssl"] + cmd, check=True, capture_output=True)
    return ca, cert, key


def run_ours(root, bench, workers, duration, workload, node_binary=None, node_args=(), tls=None, ops=None, idle=0):
    """tls: (ca, cert, key) for a cluster of our nodes with mutual TLS; the bench and the go shell use it too."""
    tls_flags = ["--tls-ca", tls[0], "--tls-cert", tls[1], "--tls-key", tls[2]] if tls else []
    if node_binary:
        n = SwiftNodes(root, f"swiftnode-{workload}-{workers}-{time.time_ns()}", node_binary, list(node_args) + tls_flags)
    else:
        n = Nodes(root, f"swift-{workload}-{workers}-{time.time_ns()}")
    try:
        n.wait_voters(shell_args=["-c", tls[1], "-k", tls[2]] if tls else [])
        results = os.path.join(n.root, "results.json")
        amount = ["--ops", str(ops)] if ops else ["--duration", str(duration)]
        r = subprocess.run([bench, "--cluster", ",".join(n.addresses), "--workers", str(workers), "--workload", workload,
                            "--results", results] + amount + tls_flags,
                           capture_output=True, text=True, timeout=(1800 if ops else duration + 180))
        if r.returncode != 0:
            raise RuntimeError(f"dqlite-bench failed: {r.stdout}{r.stderr}")
        j = json.load(open(results))
        database_mb = n.database_mb(["-c", tls[1], "-k", tls[2]] if tls else [])
        rss_end_mb = n.rss_mb()
        # Then idle: what each node still holds once writes have stopped for a while (read at the stop).
        if ops and idle:
            time.sleep(idle)
    finally:
        n.stop()
    out = {}
    for kind in ("exec", "query"):
        e = j[kind]
        locked = e["errors"].get("locked/busy", 0)
        nl = e["errors"].get("not leader", 0)
        other = sum(e["errors"].values()) - locked - nl
        out[kind] = {"ops_per_s": e["ops_per_s"], "ok": e["ok"], "p50_ms": e["p50_ms"], "p90_ms": e["p90_ms"],
                     "p99_ms": e["p99_ms"], "max_ms": e["max_ms"], "errors": {"locked/busy": locked, "not leader": nl, "other": other},
                     "cpu_us_per_op": j["cpu_us_per_op"]}
    out["peak_rss_mb"] = n.peak_rss_mb
    out["rss_end_mb"] = rss_end_mb
    out["rss_idle_mb"] = n.rss_end_mb
    out["disk_mb"] = n.disk_mb
    out["database_mb"] = database_mb
    out["seconds"] = j["seconds"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--workers", default="1,8")
    ap.add_argument("--workload", default="kvwrite", choices=["kvwrite", "kvreadwrite", "kvread"],
                    help="kvread (reads only) is ours: go's dqlite-benchmark does not have it, so only our bench runs")
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "dqlite-bench"))
    ap.add_argument("--json", help="also write all figures to this file")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per cell; the medians are reported")
    ap.add_argument("--node", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "dqlite-node"),
                    help="our dqlite-node binary; its cluster is benchmarked too when it exists")
    ap.add_argument("--node-args", default="", help="extra flags for every dqlite-node (e.g. '--stale-reads')")
    ap.add_argument("--only-node", action="store_true", help="benchmark our dqlite-node cluster only (quick checks)")
    ap.add_argument("--stale-too", action="store_true", help="also benchmark our dqlite-node with --stale-reads (C dqlite's reads)")
    ap.add_argument("--ops", type=int, help="run our bench to this many operations instead of --duration (equal work): real dqlite's "
                    "nodes and ours are driven by our dqlite-bench (go's dqlite-benchmark has no such mode), with memory and "
                    "sizes per node")
    ap.add_argument("--tls-too", action="store_true", help="also benchmark our dqlite-node with mutual TLS (nodes and bench)")
    ap.add_argument("--metrics-too", action="store_true", help="also benchmark our dqlite-node serving --metrics (Prometheus backend on)")
    ap.add_argument("--idle", type=float, default=5, help="with --ops: seconds the nodes stay up, idle, after the bench; their RSS then is the 'idle' column")
    ap.add_argument("--before-node", help="also benchmark this dqlite-node binary (an earlier build: a before/after comparison in the same run)")
    a = ap.parse_args()
    for exe in (GO_BENCH, GO_SHELL, a.bench):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} not found: run harness/bootstrap.sh and swift build -c release")
    root = tempfile.mkdtemp(prefix="dqlite-bench-compare-")
    configs = [("go dqlite-benchmark, driver in leader", lambda w: run_go(root, w, a.duration, a.workload, 0, "leader")),
               ("go dqlite-benchmark, driver on follower", lambda w: run_go(root, w, a.duration, a.workload, 2, "follower")),
               ("swift dqlite-bench", lambda w: run_ours(root, a.bench, w, a.duration, a.workload, ops=a.ops, idle=a.idle))]
    if a.workload == "kvread" or a.ops:
        configs = configs[2:]
    if a.only_node:
        configs = []
    if os.access(a.node, os.X_OK):
        configs.append(("swift dqlite-bench on swift dqlite-node",
                        lambda w: run_ours(root, a.bench, w, a.duration, a.workload, a.node, a.node_args.split(), ops=a.ops, idle=a.idle)))
        if a.before_node:
            configs.append(("swift bench on swift node (before)",
                            lambda w: run_ours(root, a.bench, w, a.duration, a.workload, a.before_node, a.node_args.split(), ops=a.ops, idle=a.idle)))
        if a.tls_too:
            certs = make_certificates(root)
            configs.append(("swift bench on swift node over TLS",
                            lambda w: run_ours(root, a.bench, w, a.duration, a.workload, a.node, a.node_args.split(), tls=certs)))
        if a.metrics_too:
            configs.append(("swift bench on swift node --metrics",
                            lambda w: run_ours(root, a.bench, w, a.duration, a.workload, a.node, a.node_args.split() + ["--metrics", "127.0.0.1:{port}"])))
        if a.stale_too:
            configs.append(("swift bench on swift node --stale-reads",
                            lambda w: run_ours(root, a.bench, w, a.duration, a.workload, a.node, a.node_args.split() + ["--stale-reads"])))
    results = {}
    try:
        for w in [int(x) for x in a.workers.split(",")]:
            for r in range(a.repeat):
                for name, run in configs:  # interleaved, so drift of the machine hits every client alike
                    results.setdefault((w, name), []).append(run(w))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def median(runs, key):
        vals = sorted(x[key] for x in runs)
        return vals[len(vals) // 2]

    def med_errors(runs, cls):
        return sorted(x["errors"][cls] for x in runs)[len(runs) // 2]

    amount = f"{a.ops} operations" if a.ops else f"{a.duration} s"
    print(f"\n{a.workload}, {amount} per run, median of {a.repeat}, 3-node clusters on loopback (real dqlite: go-dqlite 1.11.5 / libdqlite 1.11.1)")
    print(f"{'workers':>7} {'query':<5} {'client':<40} {'ops/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'locked':>7} {'notldr':>6} {'other':>5} {'CPU us/op':>9}")
    summary = []
    kinds = {"kvreadwrite": ["exec", "query"], "kvread": ["query"]}.get(a.workload, ["exec"])
    for w in sorted({k[0] for k in results}):
        for kind in kinds:
            ops = {}
            for name, _ in configs:
                runs = [r[kind] for r in results[(w, name)]]
                ops[name] = median(runs, "ops_per_s")
                cpu = f"{median(runs, 'cpu_us_per_op'):.1f}" if runs[0]["cpu_us_per_op"] is not None else "-"
                print(f"{w:>7} {kind:<5} {name:<40} {ops[name]:>8.1f} {median(runs, 'p50_ms'):>7.2f} {median(runs, 'p90_ms'):>7.2f} "
                      f"{median(runs, 'p99_ms'):>7.2f} {median(runs, 'max_ms'):>7.1f} {med_errors(runs, 'locked/busy'):>7} "
                      f"{med_errors(runs, 'not leader'):>6} {med_errors(runs, 'other'):>5} {cpu:>9}")
            node = ops.get("swift dqlite-bench on swift dqlite-node")
            for name in ("swift bench on swift node over TLS", "swift bench on swift node --metrics"):
                if name in ops and node:
                    print(f"{w:>7} {kind:<5} {'ratio ' + name[20:] + ' / plain node':<40} {ops[name] / node:>8.2f}")
            if "swift bench on swift node (before)" in ops and node:
                before = ops["swift bench on swift node (before)"]
                print(f"{w:>7} {kind:<5} {'ratio swift node now / before':<40} {node / before if before else float('inf'):>8.2f}")
            swift = ops.get("swift dqlite-bench")
            if swift is None:  # --only-node: nothing to compare with in this run
                continue
            for name, _ in [c for c in configs if c[0].startswith("go ")]:
                ratio = swift / ops[name] if ops[name] else float("inf")
                print(f"{w:>7} {kind:<5} {'ratio swift / ' + name[20:]:<40} {ratio:>8.2f}")
            if "swift dqlite-bench on swift dqlite-node" in ops and swift:
                print(f"{w:>7} {kind:<5} {'ratio swift node / real dqlite (same bench)':<40} {ops['swift dqlite-bench on swift dqlite-node'] / swift:>8.2f}")
            if "swift bench on swift node --stale-reads" in ops and swift:
                print(f"{w:>7} {kind:<5} {'ratio swift node stale / real (same bench)':<40} {ops['swift bench on swift node --stale-reads'] / swift:>8.2f}")
        for name, _ in configs:
            rss = [max(r["peak_rss_mb"]) for r in results[(w, name)] if r["peak_rss_mb"]]
            if rss:
                print(f"{w:>7} {'rss':<5} {name:<40} peak node RSS {max(rss):.0f} MiB (largest node, worst round)")
        if a.ops:
            # Memory at equal work, per node (medians over the rounds): what the database's pages explain, and the rest.
            print(f"{w:>7} {'mem':<5} {'(equal work: per node, median of rounds)':<40} {'peak':>6} {'end':>6} {'db':>6} {'disk':>6} {'end-db':>7} {'idle':>6} {'idle-db':>7}  MiB; seconds")
            for name, _ in configs:
                runs = results[(w, name)]
                for i in range(3):
                    def med(key):
                        vals = sorted(r[key][i] for r in runs if r.get(key) and len(r[key]) > i)
                        return vals[len(vals) // 2] if vals else float("nan")
                    db = sorted(r["database_mb"] or 0 for r in runs)[len(runs) // 2]
                    secs = sorted(r["seconds"] for r in runs)[len(runs) // 2]
                    print(f"{w:>7} {'mem':<5} {name[:34] + ' n' + str(i + 1):<40} {med('peak_rss_mb'):>6.0f} {med('rss_end_mb'):>6.0f} {db:>6.1f} "
                          f"{med('disk_mb'):>6.0f} {med('rss_end_mb') - db:>7.0f} {med('rss_idle_mb'):>6.0f} {med('rss_idle_mb') - db:>7.0f}  {secs:.1f}")
        summary.append({"workers": w, "runs": {name: results[(w, name)] for name, _ in configs}})
    if a.json:
        json.dump(summary, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
