package clustere2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/cluster"
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
	build := exec.Command("go", "build", "-o", bin, "./hack/cluster")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./hack/cluster: %v\n%s", err, out)
	}
	env := append(os.Environ(), "LEADERJOB_CLUSTER_ASSETS="+assets)

	cmd := exec.Command(bin)
	cmd.Dir, cmd.Env = repoRoot, env
	var stderr bytes.Buffer
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
		_ = cmd.Process.Kill()
		<-exited
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
	kubectl := exec.Command(filepath.Join(assets, "kubectl"), "get", "nodes", "-o", "name")
	kubectl.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if out, err := kubectl.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "node/"+cluster.NodeName {
		t.Errorf("kubectl get nodes: %v: %s", err, out)
	}

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
	exited <- nil // for the cleanup
}
