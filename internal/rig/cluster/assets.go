package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

// Hint says how to provide the binaries.
const Hint = "build them with hack/cluster-deps.sh (make test and make cluster do) and set LEADERJOB_CLUSTER_ASSETS=$(hack/cluster-deps.sh)"

// ErrNoAssets reports that a binary the cluster needs was not found.
var ErrNoAssets = errors.New("no cluster binaries")

// binaries are the ones Assets must hold; containerd, ctr and runc come
// from Debian's packages on PATH, the CNI plugins from cniBinDir.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl"}

// Assets returns the directory with the cluster's binaries (and a kubectl
// of the apiserver's version):
// LEADERJOB_CLUSTER_ASSETS if set, else the one hack/cluster-deps.sh fills
// for the versions pinned under internal/tools. It also checks for
// containerd, ctr, runc, ip and the CNI plugins. The error wraps
// ErrNoAssets.
func Assets() (string, error) {
	dir := os.Getenv("LEADERJOB_CLUSTER_ASSETS")
	if dir == "" {
		k8s, err := pinned.Version("kube-apiserver", "k8s.io/kubernetes")
		if err != nil {
			return "", fmt.Errorf("%w: LEADERJOB_CLUSTER_ASSETS is unset and %w", ErrNoAssets, err)
		}
		kubelet, err := pinned.Version("kubelet", "k8s.io/kubernetes")
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoAssets, err)
		}
		cache, err := pinned.CacheDir()
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrNoAssets, err)
		}
		dir = filepath.Join(cache, "cluster", "bin-"+k8s+"-kubelet-"+kubelet)
	}
	var missing []string
	for _, b := range binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, filepath.Join(dir, b))
		}
	}
	for _, b := range []string{"containerd", "ctr", "runc", "ip"} {
		if _, err := lookPath(b); err != nil {
			missing = append(missing, b+" (on PATH)")
		}
	}
	for _, b := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, b)); err != nil {
			missing = append(missing, filepath.Join(cniBinDir, b))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: missing %s; %s", ErrNoAssets, strings.Join(missing, ", "), Hint)
	}
	return dir, nil
}
