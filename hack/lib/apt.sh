# Sourced by hack/test-deps.sh and hack/bench-deps.sh.
#
# apt_install_quietly NAME PACKAGE... installs Debian packages as root with
# apt-get, with no service started while they install (invoke-rc.d asks
# /usr/sbin/policy-rc.d; 101 means "not allowed"; an existing policy is put
# back afterwards), then disables and stops the services named like a
# package that this call installed, in case an init system started them
# regardless. NAME prefixes its messages.
apt_install_quietly() {
  local name=$1
  shift
  if [[ $(id -u) != 0 ]]; then
    echo "$name: run as root (apt-get install -y --no-install-recommends $*)" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "$name: no apt-get; install $* by other means" >&2
    return 1
  fi
  local policy=/usr/sbin/policy-rc.d saved=""
  if [[ -e $policy ]]; then
    saved="$(mktemp)"
    cp -p "$policy" "$saved"
  fi
  printf '#!/bin/sh\n# %s: no service starts while packages install\nexit 101\n' "$name" >"$policy"
  chmod 755 "$policy"
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  if [[ -n $saved ]]; then
    cp -p "$saved" "$policy"
    rm -f "$saved"
  else
    rm -f "$policy"
  fi
  ((rc == 0)) || return "$rc"
  local service
  for service in "$@"; do
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
      systemctl disable --now "$service.service" >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/$service ]]; then
      update-rc.d "$service" disable >/dev/null 2>&1 || true
      "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    fi
  done
}
