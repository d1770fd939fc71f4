#!/usr/bin/env bash
# Builds the etcd and kube-apiserver binaries that the integration tests start
# on loopback, from the pinned tool modules under internal/tools, and prints the
# directory that holds them (suitable for KUBEBUILDER_ASSETS).
#
# Idempotent: binaries are cached per version under
# ${LEADERJOB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaderjob}, so later runs
# return at once. Needs only Go and the Go module proxy.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The tool modules are not in the repository's workspace (go.work): each is
# built on its own, with its own go.sum.
export GOWORK=off
cache="${LEADERJOB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaderjob}"

version_of() { # module-dir module-path
  (cd "$root/internal/tools/$1" && go list -m -f '{{.Version}}' "$2")
}
apiserver_version="$(version_of kube-apiserver k8s.io/kubernetes)"
etcd_version="$(version_of etcd go.etcd.io/etcd/server/v3)"
dir="$cache/controlplane/kube-apiserver-$apiserver_version-etcd-$etcd_version"
mkdir -p "$dir"

build() { # module-dir package binary-name
  local out="$dir/$3"
  if [[ -x "$out" ]]; then return; fi
  # One build per binary at a time: a second caller (parallel CI jobs, a
  # second terminal) waits for the first and then finds the binary.
  exec 9>"$out.lock"
  if command -v flock >/dev/null; then flock 9; fi
  if [[ ! -x "$out" ]]; then
    echo "building $3 from $2 (first run only; takes minutes)" >&2
    (cd "$root/internal/tools/$1" && CGO_ENABLED=0 go build -trimpath -o "$out.tmp.$$" "$2")
    mv "$out.tmp.$$" "$out"
  fi
  exec 9>&-
}
build etcd go.etcd.io/etcd/server/v3 etcd
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver
echo "$dir"
