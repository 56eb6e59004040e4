#!/usr/bin/env python3
"""Failover time: SIGKILL of the leader during a stream of writes, until the next successful write.

Measured on a 3-node real dqlite cluster (Debian's dqlite-benchmark nodes, libdqlite 1.11 defaults) and on a
3-node cluster of our dqlite-node with its default settings, in the same run, --rounds times each (a fresh
cluster per round). The writes go through a shell, one process per write, the same for both clusters
(--client go: Debian's go-dqlite `dqlite`, whose reconnection retries in about one-second steps; --client
swift: ours); the figure is the time from the kill to the first write that succeeds after it.

usage: harness/failover.py [--rounds 3] [--node .build/release/dqlite-node] [--node-args "FLAGS" ...]
"""
import argparse, os, shutil, signal, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
from bench_compare import GO_SHELL, Nodes, SwiftNodes  # noqa: E402


SHELL = GO_SHELL


def shell(addresses, sql, timeout=10):
    return subprocess.run([SHELL, "-s", ",".join(addresses), "failover", sql], capture_output=True, text=True, timeout=timeout)


def one_round(nodes):
    nodes.wait_voters()
    if shell(nodes.addresses, "CREATE TABLE IF NOT EXISTS f (n INTEGER)").returncode != 0:
        raise RuntimeError("cannot create the table")
    successes, stop, n = [], threading.Event(), [0]

    def writer():
        while not stop.is_set():
            n[0] += 1
            started = time.monotonic()
            try:
                if shell(nodes.addresses, f"INSERT INTO f VALUES ({n[0]})", timeout=15).returncode == 0:
                    successes.append((started, time.monotonic()))
            except subprocess.TimeoutExpired:
                pass

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(2)
    leader = shell(nodes.addresses, ".leader").stdout.strip()
    index = nodes.addresses.index(leader)
    killed_at = time.monotonic()
    os.kill(nodes.procs[index].pid, signal.SIGKILL)
    deadline = killed_at + 60
    # Only a write begun after the kill counts: one already under way may still land on the old leader.
    while time.monotonic() < deadline and not any(b > killed_at for b, _ in successes):
        time.sleep(0.01)
    stop.set()
    t.join()
    after = [e for b, e in successes if b > killed_at]
    return (after[0] - killed_at) if after else float("inf")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--client", choices=["go", "swift"], default="go",
                    help="which shell makes the writes: Debian's go-dqlite `dqlite` or ours (.build/release/dqlite)")
    ap.add_argument("--node-args", action="append", default=None,
                    help="extra dqlite-node flags (default settings otherwise); repeat to compare variants, interleaved per round")
    ap.add_argument("--node", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release", "dqlite-node"))
    a = ap.parse_args()
    global SHELL
    if a.client == "swift":
        SHELL = os.path.join(os.path.dirname(__file__), "..", ".build", "release", "dqlite")
    root = tempfile.mkdtemp(prefix="dqlite-failover-")
    variants = {"swift dqlite-node (" + (args or "defaults") + ")": args for args in (a.node_args or [""])}
    results = {"real dqlite (dqlite-benchmark nodes, defaults)": []}
    results.update({name: [] for name in variants})
    try:
        for r in range(a.rounds):
            for v, name in enumerate(results):
                nodes = Nodes(root, f"real-{r}") if name.startswith("real") else SwiftNodes(root, f"swift-{r}-{v}", a.node, variants[name].split())
                try:
                    results[name].append(one_round(nodes))
                finally:
                    nodes.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, times in results.items():
        times = sorted(times)
        print(f"{name:<48} failover s: median {times[len(times) // 2]:.2f}, all {', '.join(f'{x:.2f}' for x in times)}")


if __name__ == "__main__":
    main()
