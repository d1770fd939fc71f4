#!/usr/bin/env bash
# Installs the tools the tests run as processes, beyond Go and the control
# plane that hack/controlplane.sh builds:
#
#   prometheus, promtool   Debian's "prometheus" package: promtool checks and
#                          unit-tests examples/prometheus/leaderjob-rules.yaml,
#                          and internal/rig/e2e scrapes the example with a real
#                          server on a free loopback port.
#   containerd, ctr, runc  Debian's "containerd" and "runc" packages:
#                          internal/rig/ociimage imports the images it builds into
#                          a private containerd and runs them, and the
#                          real-cluster tests (internal/rig/clustere2e) run their
#                          kubelet on a private containerd.
#   CNI plugins, ip        Debian's "containernetworking-plugins" (bridge,
#                          host-local, loopback in /usr/lib/cni) and
#                          "iproute2": the real cluster's pod network.
#
# Idempotent: when every tool is present it only says so. Otherwise it needs
# root and apt (as CI has); apt-get update runs only when something is
# missing. The packages' own services are never started: a policy-rc.d
# refuses them during the install, and afterwards they are stopped and
# disabled in case an init system started them anyway, so nothing is left
# listening on Prometheus's default port 9090 or containerd's socket.
set -euo pipefail

# tool=package
wanted=(prometheus=prometheus promtool=prometheus containerd=containerd ctr=containerd runc=runc
  /usr/lib/cni/bridge=containernetworking-plugins /usr/lib/cni/host-local=containernetworking-plugins
  /usr/lib/cni/loopback=containernetworking-plugins ip=iproute2)
present() { if [[ $1 == /* ]]; then [[ -x $1 ]]; else command -v "$1" >/dev/null || [[ -x /usr/sbin/$1 || -x /sbin/$1 ]]; fi; }
missing=() packages=()
for pair in "${wanted[@]}"; do
  tool=${pair%%=*} pkg=${pair#*=}
  if ! present "$tool"; then
    missing+=("$tool")
    [[ " ${packages[*]} " == *" $pkg "* ]] || packages+=("$pkg")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "test-deps: prometheus, promtool, containerd, ctr, runc, CNI plugins and ip present ($(promtool --version 2>&1 | head -n1); $(containerd --version))" >&2
  exit 0
fi
echo "test-deps: missing ${missing[*]}; installing Debian's ${packages[*]}" >&2

# shellcheck source=lib/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
apt_install_quietly test-deps "${packages[@]}"

for tool in "${missing[@]}"; do
  if ! present "$tool"; then
    echo "test-deps: $tool is still missing after installing ${packages[*]}" >&2
    exit 1
  fi
done
if command -v ss >/dev/null && ss -Hltn 'sport = :9090' | grep -q .; then
  echo "test-deps: something listens on :9090 (the tests use free ports of their own):" >&2
  ss -Hltnp 'sport = :9090' >&2 || true
fi
echo "test-deps: installed ${packages[*]}" >&2
