package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
)

// kubeletConfig is the kubelet's configuration for this host: containerd
// over CRI, cgroup v1 through cgroupfs without the QoS hierarchy, swap
// allowed, the apiserver's client certificates trusted, everything it
// writes under the cluster's directory, and no image garbage collection
// or disk-pressure eviction (the images cannot be pulled again). No DNS
// server runs: clusterDNS names the host's bridge address, so a pod's name
// lookups fail at once and never leave the machine (the host's resolver
// is not passed on). No iptables chains: the kubelet leaves the host's
// netfilter tables alone.
const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%[1]s
address: %[2]s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: %[3]s
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
localStorageCapacityIsolation: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "0%%"
  imagefs.available: "0%%"
  nodefs.inodesFree: "0%%"
podLogsDir: %[4]s
clusterDomain: cluster.local
clusterDNS: [%[2]s]
resolvConf: ""
serializeImagePulls: false
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
shutdownGracePeriod: 0s
makeIPTablesUtilChains: false
`

func (c *Cluster) startKubelet(ctx context.Context) error {
	began := time.Now()
	root := filepath.Join(c.dir, "kubelet")
	if err := os.MkdirAll(filepath.Join(c.dir, "pods-logs"), 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(c.dir, "kubelet.yaml")
	text := fmt.Sprintf(kubeletConfig, c.containerdSocket(), HostIP,
		filepath.Join(c.dir, "pki", "ca.crt"), filepath.Join(c.dir, "pods-logs"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}
	p, err := c.start("kubelet", c.bin("kubelet"),
		"--config", cfg,
		"--kubeconfig", filepath.Join(c.dir, "kubelet.kubeconfig"),
		"--root-dir", root,
		"--cert-dir", filepath.Join(root, "pki"),
		"--hostname-override", NodeName,
		"--node-ip", HostIP,
		"--v=1")
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		return err
	}
	if err := poll(ctx, "the node to be Ready", 200*time.Millisecond, []*process{p}, func(ctx context.Context) error {
		return nodeReady(ctx, cs)
	}); err != nil {
		return err
	}
	fmt.Fprintf(c.progress, "cluster: kubelet's node Ready in %.1fs\n", time.Since(began).Seconds())
	return nil
}
