#!/usr/bin/env bash
# The whole test suite: bootstrap, debug build with tests, every test target, the embedding example, then a release build
# (Swift 6 has reported data races in -c release that debug builds did not, and the benchmarks use it), then
# the chaos gate: every smoke scenario with fixed seeds (ci/smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash harness/bootstrap.sh
swift build --build-tests
# Bounded: a hung test prints its backtraces and fails in 25 minutes instead of running into CI's limit.
bash ci/bounded.sh 1500 swift test --skip-build
# The example package builds against the DqliteApp product from outside, and runs.
bash examples/run.sh
swift build -c release
bash ci/smoke.sh
