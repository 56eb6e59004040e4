#!/usr/bin/env python3
"""Compare our dqlite-bench with Debian's go-dqlite dqlite-benchmark, in the same run, on 3-node real dqlite
clusters on loopback.

For each worker count: (1) go's dqlite-benchmark drives its own 3-node cluster (driver on node 1), as its
help text shows; (2) a fresh 3-node cluster of the same dqlite-benchmark binary serves, and our dqlite-bench
drives it over the wire. Both clusters are real dqlite 1.11 with the same settings. Prints ops/s, latency
percentiles, errors by class and our client's CPU time per operation, plus our/go throughput ratios.

usage: harness/bench_compare.py [--duration 15] [--workers 1,8] [--workload kvwrite] [--bench PATH]
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

    def __init__(self, root, name, driver_args=None):
        """driver_args: extra flags that make node 1 the benchmark driver (it gets --cluster too)."""
        self.root = os.path.join(root, name)
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        self.procs = []
        for i, addr in enumerate(self.addresses):
            d = os.path.join(self.root, f"node{i + 1}")
            os.makedirs(d)
            args = [GO_BENCH, "--db", addr, "--dir", d]
            if i > 0:
                args += ["--join", self.addresses[0]]
            if i == 0 and driver_args:
                args += ["--driver", "--cluster", ",".join(self.addresses)] + driver_args
            log = open(os.path.join(self.root, f"node{i + 1}.log"), "w")
            self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))

    def wait_voters(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run([GO_SHELL, "-s", ",".join(self.addresses), "benchmark", ".cluster"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0 and r.stdout.count("|voter") == 3:
                return
            time.sleep(0.5)
        raise RuntimeError(f"cluster {self.addresses} did not get 3 voters; logs in {self.root}")

    def stop(self):
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


def run_go(root, workers, duration, workload):
    n = Nodes(root, f"go-{workload}-{workers}", ["--workers", str(workers), "--duration", str(duration), "--workload", workload])
    try:
        if n.procs[0].wait(timeout=duration + 180) != 0:
            raise RuntimeError(f"dqlite-benchmark driver failed; see {n.root}/node1.log")
    finally:
        n.stop()
    ok, errs, lat = 0, [], []
    for f in glob.glob(os.path.join(n.root, "node1", "*", "results", "*-exec-*")):
        if "-exec-" not in f and workload == "kvwrite":
            continue
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
            if section == "m" and "-exec-" in f:
                lat.append(float(parts[1])); ok += 1
            elif section == "e" and "-exec-" in f:
                errs.append(parts[1] if len(parts) > 1 else "")
    lat.sort()
    return {"ops_per_s": ok / duration, "ok": ok, "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90),
            "p99_ms": percentile(lat, 99), "max_ms": lat[-1] if lat else 0.0, "errors": classify(errs), "cpu_us_per_op": None}


def run_ours(root, bench, workers, duration, workload):
    n = Nodes(root, f"swift-{workload}-{workers}")
    try:
        n.wait_voters()
        results = os.path.join(n.root, "results.json")
        r = subprocess.run([bench, "--cluster", ",".join(n.addresses), "--workers", str(workers), "--duration",
                            str(duration), "--workload", workload, "--results", results],
                           capture_output=True, text=True, timeout=duration + 180)
        if r.returncode != 0:
            raise RuntimeError(f"dqlite-bench failed: {r.stdout}{r.stderr}")
        j = json.load(open(results))
    finally:
        n.stop()
    e = j["exec"]
    locked = e["errors"].get("locked/busy", 0)
    nl = e["errors"].get("not leader", 0)
    other = sum(e["errors"].values()) - locked - nl
    return {"ops_per_s": e["ops_per_s"], "ok": e["ok"], "p50_ms": e["p50_ms"], "p90_ms": e["p90_ms"], "p99_ms": e["p99_ms"],
            "max_ms": e["max_ms"], "errors": {"locked/busy": locked, "not leader": nl, "other": other},
            "cpu_us_per_op": j["cpu_us_per_op"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--workers", default="1,8")
    ap.add_argument("--workload", default="kvwrite", choices=["kvwrite", "kvreadwrite"])
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "dqlite-bench"))
    ap.add_argument("--json", help="also write all figures to this file")
    a = ap.parse_args()
    for exe in (GO_BENCH, GO_SHELL, a.bench):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} not found: run harness/bootstrap.sh and swift build -c release")
    root = tempfile.mkdtemp(prefix="dqlite-bench-compare-")
    rows = []
    try:
        for w in [int(x) for x in a.workers.split(",")]:
            go = run_go(root, w, a.duration, a.workload)
            ours = run_ours(root, a.bench, w, a.duration, a.workload)
            rows.append((w, go, ours))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{a.workload}, {a.duration} s per run, 3-node real dqlite (go-dqlite 1.11.5 / libdqlite 1.11.1) on loopback")
    print(f"{'workers':>7} {'client':<24} {'ops/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'locked':>8} {'not ldr':>8} {'other':>6} {'CPU us/op':>9}")
    for w, go, ours in rows:
        for name, r in (("go dqlite-benchmark", go), ("swift dqlite-bench", ours)):
            cpu = f"{r['cpu_us_per_op']:.1f}" if r["cpu_us_per_op"] is not None else "-"
            print(f"{w:>7} {name:<24} {r['ops_per_s']:>9.1f} {r['p50_ms']:>8.2f} {r['p90_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                  f"{r['max_ms']:>8.1f} {r['errors']['locked/busy']:>8} {r['errors']['not leader']:>8} {r['errors']['other']:>6} {cpu:>9}")
        ratio = ours["ops_per_s"] / go["ops_per_s"] if go["ops_per_s"] else float("inf")
        print(f"{w:>7} {'ratio swift/go':<24} {ratio:>9.2f}")
    if a.json:
        json.dump([{"workers": w, "go": go, "swift": ours} for w, go, ours in rows], open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
