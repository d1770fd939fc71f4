package clustere2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/leaderjob/leaderjob/internal/rig/gitrev"

	"github.com/leaderjob/leaderjob/internal/rig/cluster"
)

// The cluster binaries and the repository's root, found by TestMain; the
// cluster the tests share, started by the first test that asks (shared).
var (
	assets, repoRoot string

	startOnce   sync.Once
	testCluster *cluster.Cluster
	startErr    error
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
	var err error
	if assets, err = cluster.Assets(); err != nil {
		return unavailable(err)
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..", "..")

	code := m.Run()
	if testCluster != nil {
		began := time.Now()
		if err := testCluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "clustere2e: stopping the cluster:", err)
			code = 1
		}
		fmt.Fprintf(os.Stderr, "clustere2e: cluster stopped in %.1fs (logs in %s/logs)\n", time.Since(began).Seconds(), testCluster.Dir())
	}
	return code
}

// shared returns the cluster the tests share, starting it (and building and
// importing the images) on first use.
func shared(t *testing.T) *cluster.Cluster {
	t.Helper()
	startOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "leaderjob-images-")
		if err != nil {
			startErr = err
			return
		}
		defer os.RemoveAll(dir)
		began := time.Now()
		images, err := cluster.BuildImages(ctx, repoRoot, dir)
		if err != nil {
			startErr = err
			return
		}
		if rev := os.Getenv(gitrev.EnvUpgradeFrom); rev != "" {
			previous, err := buildPrevious(ctx, rev, dir)
			if err != nil {
				startErr = err
				return
			}
			images = append(images, previous)
		}
		fmt.Fprintf(os.Stderr, "clustere2e: images built in %.1fs\n", time.Since(began).Seconds())
		testCluster, startErr = cluster.Start(ctx, cluster.Options{Assets: assets, Images: images, Progress: os.Stderr})
	})
	if startErr != nil {
		t.Fatal(startErr)
	}
	return testCluster
}

func client(t *testing.T) kubernetes.Interface {
	t.Helper()
	cs, err := shared(t).Client()
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
