#!/usr/bin/env bash
# A quick benchmark against real dqlite: start a 3-node real dqlite cluster on loopback, run a
# transactional key/value workload against it through our client, print the figures, and stop the cluster.
# Extra arguments go to dqlite-bench (e.g. --duration 30 --workers 8 --workload kvwrite).
set -euo pipefail
cd "$(dirname "$0")/.."
bash harness/bootstrap.sh
swift build -c release --product dqlite-bench
exec .build/release/dqlite-bench --local-cluster 3 --workload kvreadwrite --workers 4 --duration 10 "$@"
