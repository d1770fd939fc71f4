package clustere2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/cluster"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// make cluster as a person runs it, as a process (it runs first, before
// the shared cluster: one cluster runs per machine): it prints one line,
// export KUBECONFIG=<path>, and the cluster answers kubectl there; a second
// one is refused with the holder's process id; make cluster-stop (cluster
// -stop) stops it, it exits 0 and leaves no bridge behind.
func TestMakeCluster(t *testing.T) {
	if testCluster != nil {
		t.Fatal("the shared cluster already runs; this test must run first")
	}
	bin := filepath.Join(t.TempDir(), "cluster")
	build := exec.Command("go", "build", "-o", bin, "./internal/rig/cmd/cluster")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./internal/rig/cmd/cluster: %v\n%s", err, out)
	}
	env := append(os.Environ(), "LEADERJOB_CLUSTER_ASSETS="+assets)
	before := hostState(t)

	cmd := exec.Command(bin)
	cmd.Dir, cmd.Env = repoRoot, env
	var stderr testutil.LogBuffer // read while exec still copies into it
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // it stops what it started
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var line string
	select {
	case line = <-lines:
	case <-time.After(5 * time.Minute):
		t.Fatalf("no line from make cluster within 5 minutes:\n%s", stderr.String())
	}
	kubeconfig, ok := strings.CutPrefix(line, "export KUBECONFIG=")
	if !ok {
		t.Fatalf("make cluster printed %q, want export KUBECONFIG=<path>\n%s", line, stderr.String())
	}
	t.Logf("make cluster: %q after %.1fs", line, time.Since(began).Seconds())
	kubectl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(assets, "kubectl"), args...)
		cmd.Dir, cmd.Env = repoRoot, append(os.Environ(), "KUBECONFIG="+kubeconfig)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := kubectl("get", "nodes", "-o", "name"); out != "node/"+cluster.NodeName {
		t.Errorf("kubectl get nodes: %s", out)
	}
	// The README's next steps: the local overlay as it is, a leader.
	kubectl("apply", "-k", "examples/kubernetes/local/lease")
	kubectl("-n", "leaderjob-lease", "rollout", "status", "deploy/monolith", "--timeout=3m")
	testutil.Eventually(t, 30*time.Second, "a holder of the Lease", func() bool {
		return kubectl("-n", "leaderjob-lease", "get", "lease", "monolith", "-o", "jsonpath={.spec.holderIdentity}", "--ignore-not-found") != ""
	})

	second := exec.Command(bin)
	second.Dir, second.Env = repoRoot, env
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already running") || !strings.Contains(string(out), "make cluster-stop") {
		t.Errorf("a second make cluster: %v\n%s\nwant a refusal that says how to stop the first", err, out)
	}

	stop := exec.Command(bin, "-stop")
	stop.Dir, stop.Env = repoRoot, env
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("make cluster-stop: %v\n%s", err, out)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("make cluster exited with %v after make cluster-stop:\n%s", err, stderr.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatal("make cluster still runs 90 s after make cluster-stop")
	}
	if out, err := exec.Command("ip", "link", "show", cluster.Bridge).CombinedOutput(); err == nil {
		t.Errorf("the bridge %s is still there after the cluster stopped:\n%s", cluster.Bridge, out)
	}
	// A network namespace (and the veths in it) is destroyed by the
	// kernel a little after its last user is gone: give it a few seconds.
	var after string
	if !testutil.Until(10*time.Second, func() bool { after = hostState(t); return after == before }) {
		t.Errorf("the machine before the cluster: %s; after it stopped: %s", before, after)
	}
	exited <- nil // for the cleanup
}

// hostState sums up what a cluster could leave behind on the machine:
// network namespaces, veth interfaces, mounts under the cluster's
// directory, and the kernel settings a kubelet changes.
func hostState(t *testing.T) string {
	t.Helper()
	netns, _ := os.ReadDir("/run/netns")
	veths, err := exec.Command("ip", "-o", "link", "show", "type", "veth").Output()
	if err != nil {
		t.Fatal(err)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mounts := strings.Count(string(mountinfo), "/leaderjob/cluster/")
	var sysctls []string
	for _, n := range []string{"kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory", "net/ipv4/ip_forward"} {
		b, _ := os.ReadFile("/proc/sys/" + n)
		sysctls = append(sysctls, n+"="+strings.TrimSpace(string(b)))
	}
	rules := "no iptables"
	if _, err := exec.LookPath("iptables"); err == nil {
		n := 0
		for _, table := range []string{"filter", "nat", "mangle"} {
			out, _ := exec.Command("iptables", "-t", table, "-S").Output()
			n += strings.Count(string(out), "\n")
		}
		rules = fmt.Sprintf("%d iptables rules and chains", n)
	}
	return fmt.Sprintf("%d network namespaces, %d veths, %d mounts under the cluster's directory, %s, %s",
		len(netns), strings.Count(string(veths), "\n"), mounts, rules, strings.Join(sysctls, " "))
}
