#!/usr/bin/env bash
# Provides what the real single-node cluster (internal/rig/cluster: make cluster
# and the tests in internal/rig/clustere2e) needs beyond hack/controlplane.sh's
# etcd and kube-apiserver, and prints the directory that holds every binary
# (suitable for LEADERJOB_CLUSTER_ASSETS):
#
#   containerd, runc, CNI plugins   Debian's packages, installed by
#                                   hack/test-deps.sh (root and apt, as CI
#                                   has) when missing
#   kube-controller-manager,        built from internal/tools/kube-apiserver
#   kube-scheduler, kubectl         (the apiserver's own version; the tests
#                                   drive the cluster with this kubectl)
#   kubelet                         built from internal/tools/kubelet (1.34:
#                                   the newest kubelets refuse cgroup v1)
#
# Idempotent: binaries are cached per version under
# ${LEADERJOB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaderjob}, so later
# runs return at once.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The tool modules are not in the repository's workspace (go.work): each is
# built on its own, with its own go.sum.
export GOWORK=off
cache="${LEADERJOB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/leaderjob}"

# Debian's packages come from hack/test-deps.sh.
if ! command -v containerd >/dev/null || [[ ! -x /usr/lib/cni/bridge ]]; then
  bash "$root/hack/test-deps.sh"
fi

version_of() { # module-dir module-path
  (cd "$root/internal/tools/$1" && go list -m -f '{{.Version}}' "$2")
}
k8s="$(version_of kube-apiserver k8s.io/kubernetes)"
kubelet="$(version_of kubelet k8s.io/kubernetes)"
dir="$cache/cluster/bin-$k8s-kubelet-$kubelet"
mkdir -p "$dir"

build() { # module-dir package binary-name
  local out="$dir/$3"
  if [[ -x "$out" ]]; then return; fi
  exec 9>"$out.lock"
  flock 9
  if [[ ! -x "$out" ]]; then
    echo "building $3 from $2 (first run only; takes minutes)" >&2
    (cd "$root/internal/tools/$1" && CGO_ENABLED=0 go build -trimpath -o "$out.tmp.$$" "$2")
    mv "$out.tmp.$$" "$out"
  fi
  exec 9>&-
}
build kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager kube-controller-manager
build kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler kube-scheduler
build kube-apiserver k8s.io/kubernetes/cmd/kubectl kubectl
build kubelet k8s.io/kubernetes/cmd/kubelet kubelet

# etcd and kube-apiserver come from hack/controlplane.sh's cache.
cp_dir="$("$root/hack/controlplane.sh")"
for b in etcd kube-apiserver; do ln -sfn "$cp_dir/$b" "$dir/$b"; done
echo "$dir"
