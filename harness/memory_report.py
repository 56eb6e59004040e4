#!/usr/bin/env python3
"""Where our node's memory goes under a benchmark: starts a 3-node dqlite-node cluster with --metrics, runs
dqlite-bench to a fixed number of operations, samples every node's dqlite_memory_bytes{part} (the node's own
breakdown, every 5 s) and its VmRSS/VmHWM every second, and prints per node the parts at peak RSS and at the
end, in MiB. Issue 21's tool for seeing what a change saves.

  swift build -c release && python3 harness/memory_report.py --ops 40000 --workers 8 [--node-args '--snapshot-log-ratio 0']
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith('dqlite_memory_bytes{part="'):
            part = line.split('"')[1]
            out[part] = float(line.rsplit(" ", 1)[1]) / 2**20
    return out


def proc_mib(pid, field):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=40000)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--workload", default="kvwrite")
    ap.add_argument("--node", default=os.path.join(HERE, "..", ".build", "release", "dqlite-node"))
    ap.add_argument("--bench", default=os.path.join(HERE, "..", ".build", "release", "dqlite-bench"))
    ap.add_argument("--node-args", default="")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="dqlite-memory-")
    addresses = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    ports = [free_port() for _ in range(3)]
    procs = []
    try:
        for i in range(3):
            d = os.path.join(root, f"node{i + 1}")
            os.makedirs(d)
            args = [a.node, "--id", str(i + 1), "--address", addresses[i], "--dir", d, "--metrics", f"127.0.0.1:{ports[i]}"]
            args += (["--join", addresses[0]] if i else []) + a.node_args.split()
            procs.append(subprocess.Popen(args, stdout=open(d + ".log", "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
            time.sleep(0.5 if i == 0 else 0.2)
        time.sleep(2)
        samples = [[] for _ in range(3)]  # (rss, parts) per second
        done = threading.Event()

        def sample():
            last = [{} for _ in range(3)]
            while not done.is_set():
                for i, p in enumerate(procs):
                    parts = scrape(ports[i]) or last[i]
                    last[i] = parts
                    samples[i].append((proc_mib(p.pid, "VmRSS"), dict(parts)))
                time.sleep(1)
        t = threading.Thread(target=sample)
        t.start()
        t0 = time.time()
        r = subprocess.run([a.bench, "--cluster", ",".join(addresses), "--workers", str(a.workers), "--ops", str(a.ops),
                            "--workload", a.workload], capture_output=True, text=True)
        took = time.time() - t0
        time.sleep(6)  # one more breakdown after the load
        done.set()
        t.join()
        if r.returncode != 0:
            sys.exit(f"dqlite-bench failed: {r.stdout}{r.stderr}")
        print(r.stdout.strip())
        print(f"\n{a.workload}, {a.ops} operations, {a.workers} workers, {took:.1f} s; node args: {a.node_args or '(defaults)'}")
        names = ["database_pages", "wal", "raft_log_entries", "snapshot_encoding", "sqlite_heap", "malloc_in_use", "malloc_free", "resident"]
        print(f"{'node':<5} {'when':<9} {'VmRSS':>6} " + " ".join(f"{n[:12]:>12}" for n in names) + "   (MiB)")
        for i, p in enumerate(procs):
            peak = max(samples[i], key=lambda s: s[0])
            for when, (rss, parts) in (("at peak", peak), ("at end", samples[i][-1])):
                print(f"n{i + 1:<4} {when:<9} {rss:>6.0f} " + " ".join(f"{parts.get(n, float('nan')):>12.1f}" for n in names))
            print(f"n{i + 1:<4} {'VmHWM':<9} {proc_mib(p.pid, 'VmHWM'):>6.0f}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGKILL)
            p.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
