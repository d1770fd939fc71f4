// Package controlplane starts a real etcd and kube-apiserver on loopback for
// integration tests, with envtest (sigs.k8s.io/controller-runtime/pkg/envtest).
//
// The binaries come from KUBEBUILDER_ASSETS or, when it is unset, from the
// cache that hack/controlplane.sh fills (it builds them from the pinned
// modules under internal/tools). Tests get a control plane through
// [Shared.Get], which skips the test when there are no binaries — or fails
// it when CI=true, so that a CI run never passes by skipping.
//
// The apiserver serves HTTPS on 127.0.0.1 with client-certificate users (an
// admin in system:masters, and any user a test adds), RBAC authorization,
// and service-account tokens (TokenRequest). Admission is kube-apiserver's
// default set but ServiceAccount (envtest turns that one off), so Pod
// Security admission enforces a namespace's pod-security.kubernetes.io
// labels. It can be stopped and started again on the same port with the
// same certificates, to simulate an outage. Nothing here talks to anything
// but loopback.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

// Hint says how to provide the binaries.
const Hint = "build them with hack/controlplane.sh (make test does) and set KUBEBUILDER_ASSETS=$(hack/controlplane.sh)"

// ErrNoAssets reports that the etcd and kube-apiserver binaries were not found.
var ErrNoAssets = errors.New("no control plane binaries")

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	env   *envtest.Environment
	admin *rest.Config
	dir   string // certificates, kubeconfig files

	mu      sync.Mutex
	stopped bool // the apiserver is stopped

	users sync.Mutex // envtest's certificate authority is not safe for concurrent use
}

// Start starts etcd and kube-apiserver from the binaries [Assets] finds.
func Start() (*ControlPlane, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	ctrllog.SetLogger(logr.Discard())
	dir, err := os.MkdirTemp("", "leaderjob-controlplane-")
	if err != nil {
		return nil, err
	}
	certs := filepath.Join(dir, "apiserver")
	if err := os.Mkdir(certs, 0o700); err != nil {
		return nil, err
	}
	useExisting := false
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		UseExistingCluster:       &useExisting,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// A fixed certificate directory keeps port and certificates across a
	// restart of the apiserver.
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: certs}
	admin, err := env.Start()
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("controlplane: starting etcd and kube-apiserver from %s: %w", assets, err)
	}
	return &ControlPlane{env: env, admin: admin, dir: dir}, nil
}

// Stop stops the apiserver and etcd and deletes their data.
func (c *ControlPlane) Stop() error {
	err := c.env.Stop()
	return errors.Join(err, os.RemoveAll(c.dir))
}

// Config returns a copy of the admin user's configuration.
func (c *ControlPlane) Config() *rest.Config { return rest.CopyConfig(c.admin) }

// Client returns an admin clientset.
func (c *ControlPlane) Client() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(c.Config())
}

// User returns the configuration of a new client-certificate user with the
// given name and groups. RBAC decides what it may do.
func (c *ControlPlane) User(name string, groups ...string) (*rest.Config, error) {
	c.users.Lock()
	defer c.users.Unlock()
	u, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, &rest.Config{})
	if err != nil {
		return nil, fmt.Errorf("controlplane: adding user %s: %w", name, err)
	}
	return u.Config(), nil
}

// ServiceAccount returns the configuration of the service account
// namespace/name, authenticated with a fresh token (TokenRequest) valid for
// an hour. The service account must exist.
func (c *ControlPlane) ServiceAccount(ctx context.Context, namespace, name string) (*rest.Config, error) {
	cs, err := c.Client()
	if err != nil {
		return nil, err
	}
	hour := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("controlplane: token for service account %s/%s: %w", namespace, name, err)
	}
	cfg := rest.AnonymousClientConfig(c.admin)
	cfg.BearerToken = tr.Status.Token
	return cfg, nil
}

// WriteKubeconfig writes cfg as a kubeconfig file (credentials embedded) for
// subprocesses and returns its path. namespace, if not empty, becomes the
// context's namespace.
func (c *ControlPlane) WriteKubeconfig(cfg *rest.Config, namespace string) (string, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
		Token:                 cfg.BearerToken,
	}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test", Namespace: namespace}
	kc.CurrentContext = "test"
	f, err := os.CreateTemp(c.dir, "*.kubeconfig")
	if err != nil {
		return "", err
	}
	_ = f.Close()
	if err := clientcmd.WriteToFile(*kc, f.Name()); err != nil {
		return "", fmt.Errorf("controlplane: writing kubeconfig: %w", err)
	}
	return f.Name(), nil
}

// StopAPIServer kills the apiserver (etcd keeps running), as in a crash or
// a network partition: from the moment it returns, the apiserver's port
// refuses connections. (A graceful apiserver shutdown would wait up to a
// minute for clients' open watches.)
func (c *ControlPlane) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	s := c.env.ControlPlane.APIServer
	pid, err := findProcess("kube-apiserver", "--cert-dir="+s.CertDir)
	if err != nil {
		return fmt.Errorf("controlplane: stopping kube-apiserver: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("controlplane: killing kube-apiserver: %w", err)
	}
	addr := s.SecureServing.HostPort()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		_ = conn.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("controlplane: kube-apiserver still listens on %s after it was killed", addr)
		}
	}
	_ = s.Stop() // reap the process and reset envtest's state; it is dead already
	c.stopped = true
	return nil
}

// findProcess returns the id of the process running the binary name with
// an argument equal to arg (Linux /proc).
func findProcess(name, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) == name && slices.Contains(args[1:], arg) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no %s process with %s", name, arg)
}

// StartAPIServer starts the apiserver again on the same address with the
// same certificates, and waits until it is ready.
func (c *ControlPlane) StartAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		return nil
	}
	if err := c.env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("controlplane: restarting kube-apiserver: %w", err)
	}
	c.stopped = false
	return nil
}

// CreateNamespace creates a namespace with a generated name starting with
// prefix and returns its name.
func (c *ControlPlane) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	cs, err := c.Client()
	if err != nil {
		return "", err
	}
	ns, err := cs.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("controlplane: creating namespace: %w", err)
	}
	return ns.Name, nil
}

// Assets returns the directory holding the etcd and kube-apiserver
// binaries: KUBEBUILDER_ASSETS if set, else the directory
// hack/controlplane.sh builds them into for the versions pinned under
// internal/tools. The error wraps ErrNoAssets when they are missing.
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, checkAssets(dir)
	}
	apiserver, err := pinned.Version("kube-apiserver", "k8s.io/kubernetes")
	if err != nil {
		return "", fmt.Errorf("%w: KUBEBUILDER_ASSETS is unset and %w", ErrNoAssets, err)
	}
	etcd, err := pinned.Version("etcd", "go.etcd.io/etcd/server/v3")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoAssets, err)
	}
	cache, err := pinned.CacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: KUBEBUILDER_ASSETS is unset and %w", ErrNoAssets, err)
	}
	dir := filepath.Join(cache, "controlplane", "kube-apiserver-"+apiserver+"-etcd-"+etcd)
	return dir, checkAssets(dir)
}

func checkAssets(dir string) error {
	for _, name := range []string{"etcd", "kube-apiserver"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%w: %s not found in %s", ErrNoAssets, name, dir)
		}
	}
	return nil
}
