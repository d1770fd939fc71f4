package cluster

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// startControlPlane starts etcd and kube-apiserver, waits until the
// apiserver is ready, then starts kube-controller-manager and
// kube-scheduler.
func (c *Cluster) startControlPlane(ctx context.Context) error {
	began := time.Now()
	pki, err := newPKI(filepath.Join(c.dir, "pki"))
	if err != nil {
		return err
	}
	for _, cert := range []struct {
		name, cn string
		groups   []string
		hosts    []string
	}{
		// The apiserver is reached at HostIP (pods, the host) and at the
		// kubernetes Service's names.
		{"apiserver", "kube-apiserver", nil, []string{HostIP, "127.0.0.1", "10.96.0.1", "localhost",
			"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil},
		{"admin", "leaderjob-admin", []string{"system:masters"}, nil},
		{"controller-manager", "system:kube-controller-manager", nil, nil},
		{"scheduler", "system:kube-scheduler", nil, nil},
		{"kubelet", "system:node:" + NodeName, []string{"system:nodes"}, nil},
	} {
		if err := pki.issue(cert.name, cert.cn, cert.groups, cert.hosts...); err != nil {
			return err
		}
	}
	if err := pki.serviceAccountKey(); err != nil {
		return err
	}
	for _, name := range []string{"admin", "controller-manager", "scheduler", "kubelet"} {
		if err := c.writeKubeconfig(filepath.Join(c.dir, name+".kubeconfig"), name); err != nil {
			return err
		}
	}

	client, peer, err := freePorts(2)
	if err != nil {
		return err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(client)
	etcd, err := c.start("etcd", c.bin("etcd"),
		"--data-dir", filepath.Join(c.dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peer),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(peer),
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return err
	}
	apiserver, err := c.start("kube-apiserver", c.bin("kube-apiserver"),
		"--etcd-servers", etcdURL,
		"--bind-address", HostIP, "--advertise-address", HostIP,
		"--secure-port", strconv.Itoa(APIServerPort),
		"--cert-dir", filepath.Join(c.dir, "pki"),
		"--tls-cert-file", pki.path("apiserver.crt"), "--tls-private-key-file", pki.path("apiserver.key"),
		"--client-ca-file", pki.path("ca.crt"),
		"--service-cluster-ip-range", ServiceCIDR,
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", pki.path("sa.pub"),
		"--service-account-signing-key-file", pki.path("sa.key"),
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--kubelet-client-certificate", pki.path("apiserver-kubelet-client.crt"),
		"--kubelet-client-key", pki.path("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types", "InternalIP",
		"--allow-privileged=false",
		"--v=1")
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := poll(ctx, "kube-apiserver to be ready", 100*time.Millisecond, []*process{etcd, apiserver}, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return err
	}
	c.admin = cfg
	fmt.Fprintf(c.progress, "cluster: etcd and kube-apiserver ready in %.1fs\n", time.Since(began).Seconds())

	kcm, err := c.start("kube-controller-manager", c.bin("kube-controller-manager"),
		"--kubeconfig", filepath.Join(c.dir, "controller-manager.kubeconfig"),
		"--authentication-kubeconfig", filepath.Join(c.dir, "controller-manager.kubeconfig"),
		"--authorization-kubeconfig", filepath.Join(c.dir, "controller-manager.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", "0",
		"--leader-elect=false", "--use-service-account-credentials",
		"--root-ca-file", pki.path("ca.crt"),
		"--service-account-private-key-file", pki.path("sa.key"),
		"--controllers", "*,-nodeipam,-cloud-node-lifecycle",
		"--v=1")
	if err != nil {
		return err
	}
	sched, err := c.start("kube-scheduler", c.bin("kube-scheduler"),
		"--kubeconfig", filepath.Join(c.dir, "scheduler.kubeconfig"),
		"--authentication-kubeconfig", filepath.Join(c.dir, "scheduler.kubeconfig"),
		"--authorization-kubeconfig", filepath.Join(c.dir, "scheduler.kubeconfig"),
		"--bind-address", "127.0.0.1", "--secure-port", "0",
		"--leader-elect=false", "--v=1")
	if err != nil {
		return err
	}
	// The service-account controller creating default's account shows
	// that the controller manager works.
	return poll(ctx, "the default service account", 100*time.Millisecond, []*process{apiserver, kcm, sched}, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// freePorts returns n free TCP ports on 127.0.0.1.
func freePorts(n int) (int, int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}
