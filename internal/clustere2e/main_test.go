package clustere2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/leaderjob/leaderjob/internal/cluster"
)

// The one cluster of this test binary, and the repository's root.
var (
	testCluster *cluster.Cluster
	repoRoot    string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ci := os.Getenv("CI") == "true"
	unavailable := func(err error) int {
		if ci {
			fmt.Fprintf(os.Stderr, "clustere2e: CI=true and the cluster cannot start: %v\n", err)
			return 1
		}
		fmt.Fprintf(os.Stderr, "clustere2e: skipping the real-cluster tests: %v\n", err)
		return 0
	}
	if os.Geteuid() != 0 {
		return unavailable(errors.New("a kubelet needs root"))
	}
	assets, err := cluster.Assets()
	if err != nil {
		return unavailable(err)
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	imgDir, err := os.MkdirTemp("", "leaderjob-images-")
	if err != nil {
		return unavailable(err)
	}
	defer os.RemoveAll(imgDir)
	began := time.Now()
	images, err := cluster.BuildImages(ctx, repoRoot, imgDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustere2e:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "clustere2e: images built in %.1fs\n", time.Since(began).Seconds())
	testCluster, err = cluster.Start(ctx, cluster.Options{Assets: assets, Images: images, Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustere2e:", err)
		return 1
	}
	code := m.Run()
	began = time.Now()
	if err := testCluster.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "clustere2e: stopping the cluster:", err)
		code = 1
	}
	fmt.Fprintf(os.Stderr, "clustere2e: cluster stopped in %.1fs (logs in %s/logs)\n", time.Since(began).Seconds(), testCluster.Dir())
	return code
}

func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs, err := testCluster.Client()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// kubectl runs the cluster's kubectl as a person would, and returns its
// output; a failure fails the test.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kubectlErr(args ...string) (string, error) {
	cmd := exec.Command(testCluster.Kubectl(), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+testCluster.Kubeconfig())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
