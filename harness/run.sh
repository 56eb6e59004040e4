#!/usr/bin/env bash
# The main job: a chaos scenario against a local cluster of our dqlite-node processes (loopback mode).
# With no arguments, the built-in default (3 nodes, list-append, kills, stops and pauses, about 30 s).
# Arguments go to `dqlite-chaos run` (e.g. Scenarios/smoke/kill-and-pause.yaml --seed 7).
set -euo pipefail
cd "$(dirname "$0")/.."
bash harness/bootstrap.sh
swift build -c release --product dqlite-node
swift build -c release --product dqlite-chaos
exec .build/release/dqlite-chaos run "$@"
