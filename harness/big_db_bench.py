#!/usr/bin/env python3
"""A big database in a 3-node cluster of ours and of real dqlite (issue 21, part 3), one after the other:

  load      ROWS rows of 1 KiB (default 1 000 000: 1 GiB) in transactions of 1 000 rows, through our shell;
            node 3 is killed before the last tenth and stays down
  writes    8 writers for 15 s on top at 400 writes/s together (dqlite-bench kvwrite --rate 400: the same rows on
            both): p99, and the snapshots our nodes took meanwhile
  catch-up  node 3 restarted: time until it has caught up. Ours: until its applied index reaches the leader's
            commit index at the restart (its metrics, every 0.5 s), then its own copy (its DUMP) is checked to
            hold every row. Real dqlite has no metrics: the start of the first DUMP of node 3's own copy that holds
            every row (each DUMP of a 1.3 GB database takes seconds itself)
  snapshot  8 writers at 400 writes/s of 16 KiB values for 75 s (about 490 MB of log: more than each of our nodes
            waits for between snapshots of a big database, 256 MiB and up to 3/8 more by its id, so every node takes
            one; real dqlite takes one every 1 024 entries): every write's latency
            (dqlite-bench --timeline), the p99 of all of them, and for ours the p99 of the writes that overlapped a
            snapshot of any node (its start and end from the node's metrics, polled every 0.2 s). Real dqlite has
            no metrics: its snapshots are counted from the files that appear
  memory    peak (VmHWM) and present RSS per node, snapshot files on disk
  restart   all three SIGKILLed and started again: time until a first read answers

  swift build -c release && python3 harness/big_db_bench.py [--rows 1000000] [--only ours|real]
"""
import argparse, glob, json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.join(HERE, "..", ".build", "release")
GO_SHELL = "/usr/bin/dqlite"
REAL_NODE = "/usr/bin/dqlite-benchmark"  # a plain go-dqlite app node when run without --driver

sys.path.insert(0, HERE)
from memory_report import free_port, proc_mib as mib  # noqa: E402


class Cluster:
    def __init__(self, root, kind, node_args=()):
        self.root, self.kind, self.node_args = root, kind, list(node_args)
        self.addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
        self.metrics = [free_port() for _ in range(3)]
        self.procs = [None] * 3
        for i in range(3):
            os.makedirs(self.dir(i))
            self.start(i)
            time.sleep(0.5 if i == 0 else 0.2)

    def dir(self, i):
        return os.path.join(self.root, f"node{i + 1}")

    def start(self, i):
        a = self.addresses
        if self.kind == "ours":
            args = [os.path.join(BUILD, "dqlite-node"), "--id", str(i + 1), "--address", a[i], "--dir", self.dir(i),
                    "--metrics", f"127.0.0.1:{self.metrics[i]}"] + (["--join", a[0]] if i else []) + self.node_args
        else:
            args = [REAL_NODE, "--db", a[i], "--dir", self.dir(i)] + (["--join", a[0]] if i else [])
        log = open(self.dir(i) + ".log", "a")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def kill(self, i):
        if self.procs[i] and self.procs[i].poll() is None:
            self.procs[i].send_signal(signal.SIGKILL)
            self.procs[i].wait()

    def shell(self, sql, db="big", stdin=None, servers=None, timeout=3600):
        return subprocess.run([os.path.join(BUILD, "dqlite"), "-s", ",".join(servers or self.addresses), "--timeout", "30", db]
                              + ([sql] if sql else []), input=stdin, capture_output=True, text=True, timeout=timeout)

    def wait_voters(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = subprocess.run([GO_SHELL, "-s", ",".join(self.addresses), "big", ".cluster"], capture_output=True, text=True, timeout=30)
            if r.returncode == 0 and r.stdout.count("|voter") == 3:
                return
            time.sleep(0.5)
        raise RuntimeError(f"no 3 voters in {self.root}")

    def scrape(self, i, name):
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics[i]}/metrics", timeout=2).read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def stop(self):
        for i in range(3):
            self.kill(i)


def load(c, first, count, batch):
    """Rows first..first+count-1 in transactions of `batch` rows, one statement each, through one shell process."""
    lines = []
    for start in range(first, first + count, batch):
        n = min(batch, first + count - start)
        # INSERT first, so that shells send it as a statement to execute (a leading WITH reads as a query).
        lines.append(f"INSERT INTO t (k, v) WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < {n - 1}) "
                     f"SELECT {start} + x, randomblob(1024) FROM c;")
    r = c.shell(None, stdin="\n".join(lines) + "\n")
    if r.returncode != 0:
        raise RuntimeError(f"load failed: {r.stderr[-500:]}")


def database_bytes(c):
    r = c.shell("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
    return int(r.stdout.strip())


def node_copy_rows(c, i, scratch):
    """The rows of node i's own copy of the database (its DUMP, written by our shell's .dump: the file and its
    WAL), counted by the sqlite3 CLI; -1 when it cannot be read."""
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    r = subprocess.run([os.path.join(BUILD, "dqlite"), "-s", c.addresses[i], "--timeout", "120", "--max-message-mib", "16384", "big",
                        f".dump {c.addresses[i]} big"],
                       cwd=scratch, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        return -1
    q = subprocess.run(["sqlite3", os.path.join(scratch, "big"), "SELECT count(*) FROM t"], capture_output=True, text=True, timeout=600)
    try:
        return int(q.stdout.strip())
    except ValueError:
        return -1


def snapshot_files(c):
    return {f for i in range(3) for f in glob.glob(os.path.join(c.dir(i), "**", "snapshot-*.meta"), recursive=True)}


def writes_during_snapshots(c, kind, root, seconds=75):
    """The snapshot phase (see the top): p99 of all writes and, for ours, of those during a snapshot; the max;
    how many snapshots the nodes took."""
    timeline, results = os.path.join(root, "snapshot-timeline.csv"), os.path.join(root, "snapshot-bench.json")
    bench = subprocess.Popen([os.path.join(BUILD, "dqlite-bench"), "--cluster", ",".join(c.addresses), "--workers", "8",
                              "--duration", str(seconds), "--rate", "400", "--value-size", "16384", "--database", "snapshots",
                              "--results", results, "--timeline", timeline], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    windows, files0 = [], snapshot_files(c)
    last = [(c.scrape(i, "dqlite_snapshot_duration_seconds_count"), c.scrape(i, "dqlite_snapshot_duration_seconds_sum"))
            for i in range(3)] if kind == "ours" else []
    while bench.poll() is None:
        time.sleep(0.2)
        now = time.time()
        for i in range(len(last)):
            n, total = c.scrape(i, "dqlite_snapshot_duration_seconds_count"), c.scrape(i, "dqlite_snapshot_duration_seconds_sum")
            if None not in (n, total) + last[i] and n > last[i][0]:
                # Each snapshot ended within the last poll; back-to-back ones (rare) are joined into one window.
                windows.append((now - (total - last[i][1]) - 0.2, now))
            if None not in (n, total):
                last[i] = (n, total)
    out = {"snapshots_during_writes": len(windows) if kind == "ours" else len(snapshot_files(c) - files0)}
    with open(os.path.join(root, "snapshot-windows.json"), "w") as f:
        json.dump(windows, f)
    if bench.returncode != 0 or not os.path.exists(timeline):
        return out
    lines = open(timeline).read().splitlines()
    start_unix = int(lines[0].rsplit(" ", 1)[1]) / 1000
    ops = [(start_unix + float(a) / 1000, float(b)) for a, b, _ in (l.split(",") for l in lines[2:])]
    def p99(latencies):
        latencies = sorted(latencies)
        return latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None
    during = [lat for t, lat in ops if any(t < w1 and t + lat / 1000 > w0 for w0, w1 in windows)]
    out.update({"snapshot_phase_writes_per_s": json.load(open(results))["exec"]["ops_per_s"],
                "snapshot_phase_p99_ms": p99(lat for _, lat in ops), "snapshot_phase_max_ms": max(lat for _, lat in ops),
                "p99_during_snapshot_ms": p99(during) if kind == "ours" else None,
                "writes_during_snapshot": len(during) if kind == "ours" else None})
    return out


def run(kind, rows, batch, node_args, load_only=False, keep=False):
    root = tempfile.mkdtemp(prefix=f"dqlite-big-{kind}-")
    c = Cluster(root, kind, node_args)
    out = {"kind": kind}
    try:
        c.wait_voters()
        r = c.shell("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        t0 = time.time()
        head = rows - rows // 10
        load(c, 0, head, batch)
        c.kill(2)
        load(c, head, rows - head, batch)
        out["load_s"] = time.time() - t0
        out["db_mib"] = database_bytes(c) / 2**20
        print(f"[{kind}] loaded {rows} rows in {out['load_s']:.1f} s, database {out['db_mib']:.0f} MiB", flush=True)
        if load_only:
            out["peak_rss_mib"] = [mib(p.pid, "VmHWM") for p in c.procs[:2]]
            return out

        snaps0 = [c.scrape(i, "dqlite_snapshots_total") for i in range(2)]
        results = os.path.join(root, "bench.json")
        # The same writes on both (400/s, which real dqlite sustains), so memory and snapshots compare.
        b = subprocess.run([os.path.join(BUILD, "dqlite-bench"), "--cluster", ",".join(c.addresses[:2]), "--workers", "8", "--duration", "15",
                            "--rate", "400", "--database", "benchmark", "--results", results], capture_output=True, text=True, timeout=300)
        if b.returncode == 0:
            j = json.load(open(results))["exec"]
            out["writes_per_s"], out["write_p99_ms"] = j["ops_per_s"], j["p99_ms"]
        snaps1 = [c.scrape(i, "dqlite_snapshots_total") for i in range(2)]
        out["snapshots_in_writes_phase"] = sum((b1 or 0) - (a1 or 0) for a1, b1 in zip(snaps0, snaps1)) if kind == "ours" else None

        t0 = time.time()
        target = max(v for v in (c.scrape(i, "dqlite_raft_commit_index") for i in range(2)) if v is not None) if kind == "ours" else None
        c.start(2)
        scratch = os.path.join(root, "dump")
        while time.time() - t0 < 1800:
            attempt = time.time()
            if kind == "ours":
                applied = c.scrape(2, "dqlite_raft_applied_index")
                if applied is not None and applied >= target:
                    out["catch_up_s"] = attempt - t0
                    break
                time.sleep(0.5)
            elif node_copy_rows(c, 2, scratch) == rows:
                out["catch_up_s"] = attempt - t0
                break
            else:
                time.sleep(1)
        if kind == "ours":
            # Node 3's peak before the DUMP that checks it (a DUMP copies the database twice in the node); the
            # peaks below include it, as real dqlite's include its DUMP probes.
            out["node3_peak_before_dump_mib"] = mib(c.procs[2].pid, "VmHWM")
            out["caught_up_copy_rows"] = node_copy_rows(c, 2, scratch)
            if out["caught_up_copy_rows"] != rows:
                print(f"[{kind}] node 3's copy holds {out['caught_up_copy_rows']} rows, not {rows}", flush=True)
        shutil.rmtree(scratch, ignore_errors=True)

        out.update(writes_during_snapshots(c, kind, root))
        print(f"[{kind}] writes during snapshots: {out}", flush=True)

        out["peak_rss_mib"] = [mib(p.pid, "VmHWM") for p in c.procs]
        out["rss_mib"] = [mib(p.pid, "VmRSS") for p in c.procs]
        snaps = [sorted(glob.glob(os.path.join(c.dir(i), "**", "snapshot-*"), recursive=True)) for i in range(3)]
        out["snapshot_file_mib"] = [max((os.path.getsize(f) for f in s if not f.endswith(".meta")), default=0) / 2**20 for s in snaps]
        if kind == "ours":
            total = [c.scrape(i, "dqlite_snapshot_duration_seconds_sum") for i in range(3)]
            count = [c.scrape(i, "dqlite_snapshot_duration_seconds_count") for i in range(3)]
            out["snapshot_mean_s"] = [s / n if s is not None and n else None for s, n in zip(total, count)]

        for i in range(3):
            c.kill(i)
        t0 = time.time()
        for i in range(3):
            c.start(i)
        while time.time() - t0 < 1800:
            r = c.shell("SELECT count(*) FROM t", timeout=120)
            if r.returncode == 0 and r.stdout.strip() == str(rows):
                break
            time.sleep(0.2)
        out["restart_to_first_read_s"] = time.time() - t0
        out["rss_after_restart_mib"] = [mib(p.pid, "VmRSS") for p in c.procs]
    finally:
        c.stop()
        if keep:
            print(f"[{kind}] data and logs kept in {root}", flush=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--only", choices=["ours", "real"])
    ap.add_argument("--node-args", default="", help="extra flags for our dqlite-node")
    ap.add_argument("--load-only", action="store_true", help="stop after the load (load time, peak RSS of nodes 1 and 2)")
    ap.add_argument("--keep", action="store_true", help="keep the nodes' data and logs (their path is printed)")
    a = ap.parse_args()
    for exe in ("dqlite-node", "dqlite", "dqlite-bench"):
        if not os.access(os.path.join(BUILD, exe), os.X_OK):
            sys.exit(f"{exe} not built: swift build -c release")
    results = [run(k, a.rows, a.batch, a.node_args.split(), a.load_only, a.keep) for k in ("ours", "real") if a.only in (None, k)]
    keys = ["load_s", "db_mib", "writes_per_s", "write_p99_ms", "snapshots_in_writes_phase", "catch_up_s", "caught_up_copy_rows", "node3_peak_before_dump_mib",
            "snapshot_phase_writes_per_s", "snapshot_phase_p99_ms", "snapshot_phase_max_ms", "snapshots_during_writes",
            "p99_during_snapshot_ms", "writes_during_snapshot", "peak_rss_mib", "rss_mib",
            "snapshot_file_mib", "snapshot_mean_s", "restart_to_first_read_s", "rss_after_restart_mib"]
    print(f"\n{a.rows} rows of 1 KiB in transactions of {a.batch}, 3 nodes on loopback")
    for k in keys:
        cells = []
        for r in results:
            v = r.get(k)
            cells.append("n/a" if v is None else "/".join("n/a" if x is None else f"{x:.1f}" for x in v) if isinstance(v, list) else f"{v:.1f}")
        print(f"{k:<28} " + "  ".join(f"{r['kind']}: {cell:<24}" for r, cell in zip(results, cells)))


if __name__ == "__main__":
    main()
