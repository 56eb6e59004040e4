#!/usr/bin/env bash
# Builds the example package under examples/embedded against this checkout's DqliteApp product, as a
# package depending on it would, and runs it: three embedded nodes form a cluster, write and read back.
set -euo pipefail
cd "$(dirname "$0")/embedded"
swift build -q
# Three free loopback ports (held together while chosen, so they differ).
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
output=$(timeout 120 .build/debug/embedded-example $ports 2> example.log) || { tail -30 example.log; exit 1; }
echo "$output"
grep -q "read back: .*hello from dqlite in Swift" <<< "$output"
grep -q "voter.*voter.*voter" <<< "$output"
