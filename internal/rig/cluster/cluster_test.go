package cluster

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
)

// The apiserver's certificate is valid, under the cluster's CA, for every
// name a client uses: the bridge address pods dial, and the kubernetes
// Service's names.
func TestAPIServerCertificateNamesItsAddresses(t *testing.T) {
	p, err := newPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.issue("apiserver", "kube-apiserver", nil, HostIP, "kubernetes.default.svc"); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.caCert)
	cert := readCert(t, p.path("apiserver.crt"))
	for _, name := range []string{HostIP, "kubernetes.default.svc"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verifying for %s: %v", name, err)
		}
	}
	if !cert.IPAddresses[0].Equal(net.ParseIP(HostIP)) {
		t.Errorf("IP SANs %v", cert.IPAddresses)
	}
	// A client certificate carries the user and groups RBAC sees.
	if err := p.issue("kubelet", "system:node:"+NodeName, []string{"system:nodes"}); err != nil {
		t.Fatal(err)
	}
	kc := readCert(t, p.path("kubelet.crt"))
	if kc.Subject.CommonName != "system:node:"+NodeName || kc.Subject.Organization[0] != "system:nodes" {
		t.Errorf("kubelet's subject %v", kc.Subject)
	}
	if _, err := kc.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("kubelet's client certificate: %v", err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// The pod network stays on the machine: a host-only bridge, no masquerade.
func TestCNIConfigIsHostOnly(t *testing.T) {
	c := &Cluster{dir: "/x"}
	var conf struct {
		Plugins []struct {
			Type, Bridge string
			IPMasq       bool
			IPAM         struct {
				Type   string
				Ranges [][]struct{ Subnet, Gateway string }
			}
		}
	}
	if err := json.Unmarshal([]byte(c.cniConfig()), &conf); err != nil {
		t.Fatal(err)
	}
	p := conf.Plugins[0]
	if p.Type != "bridge" || p.Bridge != Bridge || p.IPMasq || p.IPAM.Ranges[0][0].Gateway != HostIP || p.IPAM.Ranges[0][0].Subnet != PodCIDR {
		t.Errorf("network list %+v", conf)
	}
}

// Missing binaries are named, with the script that provides them.
func TestAssetsNamesWhatIsMissing(t *testing.T) {
	t.Setenv("LEADERJOB_CLUSTER_ASSETS", t.TempDir())
	_, err := Assets()
	if !errors.Is(err, ErrNoAssets) || !strings.Contains(err.Error(), "kubelet") || !strings.Contains(err.Error(), "hack/cluster-deps.sh") {
		t.Errorf("Assets() = %v", err)
	}
}
