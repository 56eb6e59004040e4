#!/usr/bin/env bash
# Run: swift build -c release && N=200000 bash harness/backup_bench.sh
# Backup/restore figures: two 3-node clusters of release dqlite-node on loopback ports 27001-27003 and
# 27101-27103; N rows of ~120 bytes loaded in transactions of 10 000, backed up, restored into the other.
set -u
B=$(cd "$(dirname "$0")/.." && pwd)/.build/release
N=${N:-200000}
root=$(mktemp -d)
pids=()
start() { # base port, prefix
  local p=$1
  $B/dqlite-node --id 1 --address 127.0.0.1:$p --dir $root/$2-1 > $root/$2-1.log 2>&1 & pids+=($!)
  sleep 0.5
  $B/dqlite-node --id 2 --address 127.0.0.1:$((p+1)) --dir $root/$2-2 --join 127.0.0.1:$p > $root/$2-2.log 2>&1 & pids+=($!)
  $B/dqlite-node --id 3 --address 127.0.0.1:$((p+2)) --dir $root/$2-3 --join 127.0.0.1:$p > $root/$2-3.log 2>&1 & pids+=($!)
  sleep 2
}
start 27001 a
start 27101 b
S=127.0.0.1:27001,127.0.0.1:27002,127.0.0.1:27003
T=127.0.0.1:27101,127.0.0.1:27102,127.0.0.1:27103
$B/dqlite -s $S demo "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, payload BLOB)"
for i in $(seq 0 $((N / 10000 - 1))); do
  $B/dqlite -s $S demo "WITH RECURSIVE c(x) AS (SELECT $((i * 10000 + 1)) UNION ALL SELECT x + 1 FROM c WHERE x < $(((i + 1) * 10000))) INSERT INTO t SELECT x, 'row ' || x, randomblob(100) FROM c" || echo insert failed
done
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms); $B/dqlite backup -s $S demo $root/demo.db; t1=$(ms)
echo "backup: $((t1 - t0)) ms, $(stat -c %s $root/demo.db) bytes"
sqlite3 $root/demo.db "PRAGMA integrity_check; SELECT count(*) FROM t"
t0=$(ms); $B/dqlite restore -s $T demo $root/demo.db; t1=$(ms)
echo "restore: $((t1 - t0)) ms"
$B/dqlite -s $T demo "SELECT count(*), sum(length(payload)) FROM t"
for p in "${pids[@]}"; do kill -TERM $p; done; wait
rm -rf $root
