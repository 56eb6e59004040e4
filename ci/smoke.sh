#!/usr/bin/env bash
# The CI gate: every smoke-tier scenario under Scenarios/smoke, with a few fixed seeds, against our node.
# Fails (exit 1) when any run does not meet its expectation; artifacts of every run under runs/ci/.
# Expects release builds of dqlite-node and dqlite-chaos (harness/test.sh makes them).
set -uo pipefail
cd "$(dirname "$0")/.."
SEEDS=${CHAOS_SEEDS:-"1 2"}
status=0
for scenario in Scenarios/smoke/*.yaml; do
  for seed in $SEEDS; do
    name=$(basename "$scenario" .yaml)
    # Network namespaces need root; without it, netns scenarios are skipped (loud), not failed.
    if [ "$(id -u)" != 0 ] && grep -q "isolation: netns" "$scenario"; then echo "SKIPPED (needs root): $scenario"; continue; fi
    echo "== $scenario seed $seed"
    .build/release/dqlite-chaos run "$scenario" --seed "$seed" --out "runs/ci/$name-$seed" > "runs-ci-$name-$seed.log" 2>&1
    code=$?
    if [ $code -ne 0 ]; then
      status=1
      echo "FAILED ($code): $scenario --seed $seed"; tail -15 "runs-ci-$name-$seed.log"
    else
      grep -E "^(check|verdict)" "runs-ci-$name-$seed.log"
    fi
    rm -f "runs-ci-$name-$seed.log"
  done
done
exit $status
