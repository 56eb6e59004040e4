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
    # Namespaces (netns isolation, partitions, delay, loss) and tmpfs data dirs (full disk) need root; without
    # it those scenarios are skipped (loud), not failed. The bed itself says which need it.
    if [ "$(id -u)" != 0 ] && .build/release/dqlite-chaos validate "$scenario" | grep -q "needs-root=yes"; then echo "SKIPPED (needs root): $scenario"; continue; fi
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

# The scenario that catches real dqlite's stale reads, against our node: it passes as it is, and fails with
# C dqlite's reads (--stale-reads), so the catch is the reads' doing and not the bed's.
if [ "$(id -u)" = 0 ]; then
  for variant in "--expect pass" "--stale-reads"; do
    name=stale-reads-ours$(echo "$variant" | tr -d ' -' | sed 's/^/-/')
    echo "== Scenarios/smoke/stale-reads-real-dqlite.yaml --target dqlite-node $variant seed 1"
    # shellcheck disable=SC2086
    .build/release/dqlite-chaos run Scenarios/smoke/stale-reads-real-dqlite.yaml --seed 1 --target dqlite-node $variant \
      --out "runs/ci/$name" > "runs-ci-$name.log" 2>&1
    code=$?
    if [ $code -ne 0 ]; then
      status=1
      echo "FAILED ($code): stale-reads-real-dqlite --target dqlite-node $variant"; tail -15 "runs-ci-$name.log"
    else
      grep -E "^(check|verdict)" "runs-ci-$name.log"
    fi
    rm -f "runs-ci-$name.log"
  done
fi

# Issue 5's bound: a 5-node, 60 s scenario finishes within 90 s of wall time, clean-up included (one seed of
# the nightly partitions-5-nodes, timed here from start to exit).
if [ "$(id -u)" = 0 ]; then
  echo "== Scenarios/nightly/partitions-5-nodes.yaml seed 1 (timed: must finish within 90 s)"
  t0=$(date +%s%3N)
  .build/release/dqlite-chaos run Scenarios/nightly/partitions-5-nodes.yaml --seed 1 --out runs/ci/partitions-5-nodes-1 > runs-ci-5.log 2>&1
  code=$?
  wall_ms=$(( $(date +%s%3N) - t0 ))
  echo "wall time: $((wall_ms / 1000)).$(printf %03d $((wall_ms % 1000))) s"
  if [ $code -ne 0 ] || [ $wall_ms -gt 90000 ]; then
    status=1
    echo "FAILED ($code, ${wall_ms} ms): Scenarios/nightly/partitions-5-nodes.yaml --seed 1"; tail -15 runs-ci-5.log
  else
    grep -E "^(check|verdict)" runs-ci-5.log
  fi
  rm -f runs-ci-5.log
fi
exit $status
