package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// PauseImage is the sandbox image the cluster's containerd uses for every
// pod. Nothing is pulled: it must be among [Options.Images].
const PauseImage = "registry.k8s.io/pause:3.10"

// containerdConfig is containerd 1.6's configuration (format version 2):
// private root, state and socket, the CRI plugin on runc with cgroupfs,
// CNI from Debian's plugin directory and the cluster's own network list.
//
// restrict_oom_score_adj: a VM's root may be denied a negative
// oom_score_adj, and runc then fails every sandbox with "can't get final
// child's PID from pipe". netns_mounts_under_state_dir: pods' network
// namespaces are mounted under the cluster's directory, not /run/netns,
// so that Stop's unmount removes them (and with them the pods' veths)
// even when the kubelet had no time to.
const containerdConfig = `version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[5]q
    conf_dir = %[6]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`

// cniBinDir is where Debian's containernetworking-plugins puts the plugins.
const cniBinDir = "/usr/lib/cni"

func (c *Cluster) containerdSocket() string { return filepath.Join(c.dir, "containerd.sock") }

func (c *Cluster) startContainerd(ctx context.Context) error {
	for _, dir := range []string{"containerd/root", "containerd/state", "cni/net.d", "cni/ipam"} {
		if err := os.MkdirAll(filepath.Join(c.dir, dir), 0o700); err != nil {
			return err
		}
	}
	cfg := filepath.Join(c.dir, "containerd.toml")
	text := fmt.Sprintf(containerdConfig,
		filepath.Join(c.dir, "containerd/root"), filepath.Join(c.dir, "containerd/state"),
		c.containerdSocket(), PauseImage, cniBinDir, filepath.Join(c.dir, "cni/net.d"))
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "cni/net.d/10-leaderjob.conflist"), []byte(c.cniConfig()), 0o600); err != nil {
		return err
	}
	p, err := c.start("containerd", c.bin("containerd"), "--config", cfg, "--log-level", "warn")
	if err != nil {
		return err
	}
	return poll(ctx, "containerd's socket", 50*time.Millisecond, []*process{p}, func(context.Context) error {
		conn, err := net.Dial("unix", c.containerdSocket())
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// ctr runs containerd's CLI on the cluster's containerd, in the CRI
// namespace.
func (c *Cluster) ctr(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--address", c.containerdSocket(), "--namespace", "k8s.io"}, args...)
	out, err := exec.CommandContext(ctx, c.bin("ctr"), full...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("cluster: ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ImportImage imports an image archive (docker-archive or OCI) into the
// cluster's containerd under the names it carries; pods whose image is one
// of them start without a pull.
func (c *Cluster) ImportImage(ctx context.Context, archive string) error {
	_, err := c.ctr(ctx, "images", "import", archive)
	return err
}

// killContainers kills and deletes every container containerd runs, for a
// stop that could not wait for the kubelet (sandboxes' network namespaces
// are left to the unmount under the cluster's directory).
func (c *Cluster) killContainers(ctx context.Context) {
	out, err := c.ctr(ctx, "tasks", "ls", "-q")
	if err != nil {
		return
	}
	for _, id := range strings.Fields(out) {
		_, _ = c.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", id)
		_, _ = c.ctr(ctx, "tasks", "delete", "-f", id)
	}
}

// lookPath finds a Debian-packaged tool on PATH or in the sbin
// directories a non-login root shell may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); fileExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH", name)
}

func fileExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
