#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing, so it is cheap to run every time.
# Run by both README commands and by .ci/run. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  pkg-config
  libraft-dev libuv1-dev libsqlite3-dev libseccomp-dev   # C-Raft, libuv, SQLite, seccomp for the node
  liblz4-dev                                            # checking C-Raft's compressed snapshots before start
  iproute2 iptables nftables                            # namespaces and partitions for the chaos test bed
  fuse3 libfuse3-dev                                    # the bed's power-loss layer (a FUSE filesystem)
  libedit-dev tmux                                      # the shell's line editing, and its terminal test
  go-dqlite libdqlite-dev                               # real dqlite: dqlite-demo, dqlite shell, dqlite-benchmark
  python3                                               # the benchmark comparison script
  curl                                                  # the demo's test drives its HTTP API as its README does
  sqlite3                                               # backups are checked with the sqlite3 CLI
  libssl-dev openssl                                    # TLS (OpenSSL), and certificates made for its tests and the bed
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (the machine image provides Swift 6)"; exit 1; }
