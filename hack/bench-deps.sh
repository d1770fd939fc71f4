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
if [[ $(id -u) != 0 ]]; then
  echo "bench-deps: run as root (apt-get install -y --no-install-recommends redis-server)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "bench-deps: no apt-get; install redis-server (Redis 6 or later) by other means" >&2
  exit 1
fi

# invoke-rc.d asks /usr/sbin/policy-rc.d whether a service may start; 101
# means no. An existing policy is put back afterwards.
policy=/usr/sbin/policy-rc.d
saved=""
if [[ -e $policy ]]; then
  saved="$(mktemp)"
  cp -p "$policy" "$saved"
fi
restore_policy() {
  if [[ -n $saved ]]; then
    cp -p "$saved" "$policy"
    rm -f "$saved"
  else
    rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# bench-deps.sh: no service starts while packages install\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null

# The package enables its service for the next boot: disable it, and stop
# it if an init system started it regardless.
if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
  systemctl disable --now redis-server.service >/dev/null 2>&1 || true
fi
if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/redis-server ]]; then
  update-rc.d redis-server disable >/dev/null 2>&1 || true
  /etc/init.d/redis-server stop >/dev/null 2>&1 || true
fi

if ! present; then
  echo "bench-deps: redis-server is still missing after installing Debian's redis-server" >&2
  exit 1
fi
if command -v ss >/dev/null && ss -Hltn 'sport = :6379' | grep -q .; then
  echo "bench-deps: something listens on :6379 (the bench uses free ports of its own):" >&2
  ss -Hltnp 'sport = :6379' >&2 || true
fi
echo "bench-deps: installed redis-server ($(redis-server --version | head -n1))" >&2
