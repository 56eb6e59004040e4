#!/usr/bin/env bash
# The whole test suite: bootstrap, debug build with tests, every test target, then a release build
# (Swift 6 has reported data races in -c release that debug builds did not, and the benchmarks use it), then
# the chaos gate: every smoke scenario with fixed seeds (ci/smoke.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash harness/bootstrap.sh
swift build --build-tests
swift test --skip-build
swift build -c release
bash ci/smoke.sh
