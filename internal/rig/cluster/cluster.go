package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

// Fixed addresses: one cluster runs on a machine at a time, so a
// kustomize overlay can name the apiserver (see [Options.Dir]).
const (
	APIServerPort = 6443
	ServiceCIDR   = "10.96.0.0/24"
	NodeName      = "leaderjob-node"
)

// ErrRunning reports that another cluster holds the machine's lock.
var ErrRunning = errors.New("a leaderjob cluster is already running on this machine")

// Options configure [Start]. The zero value is valid but for Images,
// which must hold the pause image.
type Options struct {
	// Dir holds everything the cluster writes: certificates, kubeconfig
	// files, etcd's data, containerd's root and state, the kubelet's root,
	// and each component's log in logs/. It is wiped at start. Default:
	// cluster/run in the cache directory (see [Assets]).
	Dir string
	// Assets is the directory with etcd, kube-apiserver,
	// kube-controller-manager, kube-scheduler and kubelet. Default:
	// [Assets]().
	Assets string
	// Images are image archives imported into containerd before the node
	// is ready; one of them must be [PauseImage].
	Images []string
	// Progress, if not nil, receives one line per start-up step.
	Progress io.Writer
}

// Cluster is a running single-node cluster.
type Cluster struct {
	dir, assets string
	lock        *os.File
	progress    io.Writer
	admin       *rest.Config
	sysctls     map[string]string // as they were before the kubelet
	mu          sync.Mutex
	procs       []*process // in start order; containerd starts beside the control plane
	stopOnce    sync.Once
	stopErr     error
}

// Start starts etcd, kube-apiserver, containerd, kube-controller-manager,
// kube-scheduler and a kubelet, imports the images, and returns when the
// node is Ready and the default service account exists. It needs root.
// The error wraps [ErrRunning] when another cluster runs.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("cluster: a kubelet and containerd need root; run as root")
	}
	if opts.Assets == "" {
		if opts.Assets, err = Assets(); err != nil {
			return nil, err
		}
	}
	if opts.Dir == "" {
		cache, err := pinned.CacheDir()
		if err != nil {
			return nil, err
		}
		opts.Dir = filepath.Join(cache, "cluster", "run")
	}
	c := &Cluster{dir: opts.Dir, assets: opts.Assets, progress: opts.Progress}
	if c.progress == nil {
		c.progress = io.Discard
	}
	if err := c.acquire(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	began := time.Now()
	if err := c.prepare(); err != nil {
		return nil, err
	}
	// containerd and the images do not wait for the control plane; a
	// failure of either stops the other before Start returns.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	images := make(chan error, 1)
	go func() { images <- c.startRuntime(rctx, opts.Images) }()
	if err := c.startControlPlane(ctx); err != nil {
		cancel()
		return nil, errors.Join(err, <-images)
	}
	if err := <-images; err != nil {
		return nil, err
	}
	if err := c.startKubelet(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(c.progress, "cluster: ready in %.1fs\n", time.Since(began).Seconds())
	return c, nil
}

// acquire takes the machine-wide lock (held until Stop or the process's
// death) and clears what a cluster that died left behind.
func (c *Cluster) acquire() error {
	f, err := takeLock()
	if err != nil {
		return err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	c.lock = f
	killTasks(c.dir)
	killLeftovers(c.dir)
	c.sysctls = saveSysctls(kubeletSysctls)
	return nil
}

// takeLock takes the machine's cluster lock; the error wraps ErrRunning,
// naming the process that holds it, when another cluster runs.
func takeLock() (*os.File, error) {
	path, err := lockPath()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(f.Name())
		f.Close()
		return nil, fmt.Errorf("cluster: %w (process %s holds %s); stop it first (make cluster-stop, or ^C where make cluster runs)",
			ErrRunning, string(b), f.Name())
	}
	return f, nil
}

// CheckFree reports, as Start would, whether another cluster runs on this
// machine, without starting one: a caller can fail before slow work.
func CheckFree() error {
	f, err := takeLock()
	if err != nil {
		return err
	}
	return f.Close() // closing releases the lock
}

func (c *Cluster) prepare() error {
	if err := unmountUnder(c.dir); err != nil {
		return err
	}
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("cluster: clearing %s: %w", c.dir, err)
	}
	if err := os.MkdirAll(filepath.Join(c.dir, "logs"), 0o755); err != nil {
		return err
	}
	return bridgeUp()
}

func (c *Cluster) startRuntime(ctx context.Context, images []string) error {
	began := time.Now()
	if err := c.startContainerd(ctx); err != nil {
		return err
	}
	for _, img := range images {
		if err := c.ImportImage(ctx, img); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.progress, "cluster: containerd up, %d images imported in %.1fs\n", len(images), time.Since(began).Seconds())
	return nil
}

func (c *Cluster) bin(name string) string {
	switch name {
	case "containerd", "ctr":
		if p, err := lookPath(name); err == nil {
			return p
		}
		return name
	}
	return filepath.Join(c.assets, name)
}

// Dir returns the cluster's directory (logs in Dir()/logs).
func (c *Cluster) Dir() string { return c.dir }

// Kubeconfig returns the path of the admin's kubeconfig file.
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.dir, "admin.kubeconfig") }

// Config returns a copy of the admin's client configuration.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.admin) }

// Client returns an admin clientset.
func (c *Cluster) Client() (kubernetes.Interface, error) { return kubernetes.NewForConfig(c.Config()) }

// Stop deletes every pod (so that the kubelet tears down their sandboxes
// and networks), stops the components in reverse order, removes the
// bridge and releases the lock. The directory stays, for its logs.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.mu.Lock()
	procs := slices.Clone(c.procs)
	c.mu.Unlock()
	// No controller may replace the pods being deleted: a ReplicaSet's new
	// pod starting while the kubelet stops would be left running.
	for _, p := range procs {
		if p.name == "kube-controller-manager" || p.name == "kube-scheduler" {
			p.stop(10 * time.Second)
		}
	}
	if c.admin != nil {
		c.deletePods(ctx)
	}
	for _, p := range procs {
		if p.name == "containerd" {
			c.killContainers(ctx)
		}
	}
	for _, p := range slices.Backward(procs) {
		p.stop(10 * time.Second)
	}
	killTasks(c.dir)
	killLeftovers(c.dir)
	errs := []error{unmountUnder(c.dir), bridgeDown(), restoreSysctls(c.sysctls)}
	if c.lock != nil {
		errs = append(errs, c.lock.Close())
	}
	return errors.Join(errs...)
}

// deletePods deletes every pod at once and waits, at most 30 seconds,
// until the kubelet has stopped them all.
func (c *Cluster) deletePods(ctx context.Context) {
	cs, err := c.Client()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	zero := int64(0)
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, ns := range nss.Items {
		_ = cs.CoreV1().Pods(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	}
	_ = poll(ctx, "pods to stop", 200*time.Millisecond, nil, func(ctx context.Context) error {
		out, err := c.ctr(ctx, "tasks", "ls", "-q")
		if err != nil || len(out) == 0 {
			return nil
		}
		return errors.New("containers still run")
	})
}

// writeKubeconfig writes a kubeconfig for the client certificate name in
// the PKI, reaching the apiserver at HostIP.
func (c *Cluster) writeKubeconfig(path, name string) error {
	p := filepath.Join(c.dir, "pki")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["leaderjob"] = &clientcmdapi.Cluster{Server: c.apiserverURL(), CertificateAuthority: filepath.Join(p, "ca.crt")}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificate: filepath.Join(p, name+".crt"), ClientKey: filepath.Join(p, name+".key")}
	kc.Contexts["leaderjob"] = &clientcmdapi.Context{Cluster: "leaderjob", AuthInfo: name}
	kc.CurrentContext = "leaderjob"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("cluster: writing %s: %w", path, err)
	}
	return nil
}

func (c *Cluster) apiserverURL() string {
	return "https://" + net.JoinHostPort(HostIP, strconv.Itoa(APIServerPort))
}

// nodeReady reports an error until the node is Ready.
func nodeReady(ctx context.Context, cs kubernetes.Interface) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			if cond.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s not ready: %s", NodeName, cond.Message)
		}
	}
	return fmt.Errorf("node %s has no Ready condition yet", NodeName)
}

// Kubectl returns the path of the kubectl of the apiserver's version.
func (c *Cluster) Kubectl() string { return c.bin("kubectl") }

// StopRunning asks the process that runs this machine's cluster (the one
// holding the lock) to stop it, with SIGTERM, and waits until it has.
func StopRunning(within time.Duration) error {
	path, err := lockPath()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("cluster: no cluster runs on this machine")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		return errors.New("cluster: no cluster runs on this machine")
	}
	b, _ := os.ReadFile(path)
	pid, err := strconv.Atoi(string(b))
	if err != nil || pid <= 0 {
		return fmt.Errorf("cluster: %s names no process (%q)", path, b)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("cluster: signalling process %d: %w", pid, err)
	}
	deadline := time.Now().Add(within)
	for syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: process %d still runs the cluster after %v", pid, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// lockPath is the machine's one cluster lock, whatever the user's cache
// directory: the bridge, the apiserver's address and the kubelet's ports
// are fixed, so one cluster runs at a time.
func lockPath() (string, error) { return "/run/leaderjob/cluster.lock", nil }
