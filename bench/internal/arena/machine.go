package arena

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/leaderjob/leaderjob/bench/internal/report"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

// Machine describes this machine, the apiserver and redis-server.
func (b *Bench) Machine(ctx context.Context) report.Machine {
	m := report.Machine{CPUs: runtime.NumCPU(), CPUModel: cpuModel(), Memory: memory(), Kernel: uname(), Go: goVersion()}
	if b.ControlPlane != nil {
		m.APIServer = "kube-apiserver " + apiserverVersion(b.ControlPlane)
	}
	if b.RedisServer != "" {
		m.Redis = RedisVersion(b.RedisServer)
	}
	return m
}

// apiserverVersion asks the apiserver its version. One built from the
// module proxy does not know it (v0.0.0-master): then it is the version the
// tool module pins.
func apiserverVersion(cp *controlplane.ControlPlane) string {
	v := "(version unknown)"
	if cs, err := kubernetes.NewForConfig(cp.Config()); err == nil {
		if info, err := cs.Discovery().ServerVersion(); err == nil {
			v = info.GitVersion
		}
	}
	if strings.HasPrefix(v, "v0.0.0") || strings.HasPrefix(v, "(") {
		if pin, err := pinned.Version("kube-apiserver", "k8s.io/kubernetes"); err == nil {
			return pin
		}
	}
	return v
}

// procField returns the value of the first line of a /proc file starting
// with key.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func cpuModel() string { return procField("/proc/cpuinfo", "model name") }

func memory() string {
	v := procField("/proc/meminfo", "MemTotal")
	var kb int64
	if _, err := fmt.Sscanf(v, "%d kB", &kb); err != nil {
		return v
	}
	return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
}

func uname() string {
	out, err := exec.Command("uname", "-srm").Output()
	if err != nil {
		return runtime.GOOS + "/" + runtime.GOARCH
	}
	return strings.TrimSpace(string(out))
}

func goVersion() string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return runtime.Version()
	}
	return strings.TrimSpace(string(out))
}
