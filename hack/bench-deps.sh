#!/usr/bin/env bash
# Installs what the comparison (make bench, bench/) needs beyond Go and the
# control plane that hack/controlplane.sh builds:
#
#   redis-server   Debian's "redis-server" package: the Redis server behind
#                  the gocron + Redis Locker contender. The bench starts its
#                  own on a free loopback port, without persistence.
#
# Idempotent: when redis-server is present it only says so. Otherwise it
# needs root and apt; apt-get update runs only then. The package's service
# is never left running: a policy-rc.d refuses service starts during the
# install, and afterwards the service is stopped and disabled in case an
# init system started it anyway, so nothing listens on Redis's default port
# 6379.
set -euo pipefail

present() { command -v redis-server >/dev/null || [[ -x /usr/bin/redis-server ]]; }
if present; then
  echo "bench-deps: redis-server present ($(redis-server --version | head -n1))" >&2
  exit 0
fi
echo "bench-deps: missing redis-server; installing Debian's redis-server" >&2
# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
apt_install_quietly bench-deps redis-server

if ! present; then
  echo "bench-deps: redis-server is still missing after installing Debian's redis-server" >&2
  exit 1
fi
if command -v ss >/dev/null && ss -Hltn 'sport = :6379' | grep -q .; then
  echo "bench-deps: something listens on :6379 (the bench uses free ports of its own):" >&2
  ss -Hltnp 'sport = :6379' >&2 || true
fi
echo "bench-deps: installed redis-server ($(redis-server --version | head -n1))" >&2
