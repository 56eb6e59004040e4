#!/usr/bin/env bash
# bounded.sh SECONDS COMMAND [ARGS...]: runs COMMAND; if it is still running after SECONDS, prints what it and
# its descendants are doing (process tree with kernel wait channels, and each Swift or C process's thread
# backtraces through gdb when gdb is installed), stops them, and exits 124. Otherwise exits with COMMAND's code.
# Why: a hang in CI used to run into the 90-minute limit and print nothing about where it hung.
set -u
limit=$1; shift
"$@" &
pid=$!
deadline=$(( $(date +%s) + limit ))
while kill -0 "$pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "TIMED OUT after ${limit} s: $*"
    # Every descendant of the command, found through /proc (children of children, breadth first).
    all="$pid"; frontier="$pid"
    while [ -n "$frontier" ]; do
      next=""
      for p in $frontier; do
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do next="$next $c"; done
      done
      all="$all $next"; frontier=$(echo $next)
    done
    ps -o pid,ppid,stat,wchan:24,etime,args -p "$(echo $all | tr ' ' ',')" 2>/dev/null | cut -c1-220
    if command -v gdb > /dev/null; then
      for p in $all; do
        case "$(cat /proc/"$p"/comm 2>/dev/null)" in
          bash|sh|timeout|tail|grep) continue ;;
        esac
        echo "--- threads of $p ($(cat /proc/"$p"/comm 2>/dev/null))"
        timeout 60 gdb -p "$p" -batch -ex "thread apply all bt 14" 2>/dev/null | grep -E "^(Thread|#)" | cut -c1-220 | head -120
      done
    fi
    for p in $all; do kill -9 "$p" 2>/dev/null; done
    wait "$pid" 2>/dev/null
    exit 124
  fi
  sleep 1
done
wait "$pid"
