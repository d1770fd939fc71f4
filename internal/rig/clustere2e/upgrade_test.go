package clustere2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/gitrev"
	"github.com/leaderjob/leaderjob/internal/rig/ociimage"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// Images of the example: this release's, and the earlier release's that
// LEADERJOB_UPGRADE_FROM names.
const (
	currentImage  = "example.com/monolith:1.0.0"
	previousImage = "example.com/monolith:previous"
)

// buildPrevious builds the example's image as it was at rev, tagged
// previousImage, into an archive in dir.
func buildPrevious(ctx context.Context, rev, dir string) (string, error) {
	src := filepath.Join(dir, "previous-src")
	remove, err := gitrev.Worktree(rev, src)
	if err != nil {
		return "", err
	}
	defer remove()
	out := filepath.Join(dir, "previous.tar")
	if _, err := ociimage.Build(ctx, ociimage.Options{
		Root: src, Dockerfile: filepath.Join(src, "examples/monolith/Dockerfile"), Ref: previousImage, Output: out,
	}); err != nil {
		return "", fmt.Errorf("building the example at %s: %w", rev, err)
	}
	return out, nil
}

// The lease example on a real node, upgraded and rolled back as operators
// do it: the Deployment's image set to the earlier release
// (LEADERJOB_UPGRADE_FROM), to this one, and back to the earlier one, each
// a rolling update of 3 replicas during which both releases lead in turn
// and share the ledger. With catch-up on, no fire of the per-second job is
// lost or run twice in any of them.
func TestLeaseExampleUpgradeAndRollBack(t *testing.T) {
	rev := os.Getenv(gitrev.EnvUpgradeFrom)
	if rev == "" {
		t.Skipf("set %s to a git revision (such as a release tag) to upgrade from it and roll back on the node", gitrev.EnvUpgradeFrom)
	}
	const ns = "upgrade-e2e"
	env := catchUpEnv()
	shared(t)
	l := followLogs(t, ns)
	leases := watchLease(t, ns, "monolith")
	deploy(t, "lease", ns, env)
	testutil.Eventually(t, 30*time.Second, "a pod to hold the Lease", func() bool { return leases.current() != "" })

	for i, image := range []string{previousImage, currentImage, previousImage} {
		time.Sleep(3 * time.Second)
		began := time.Now()
		kubectl(t, "-n", ns, "set", "image", "deploy/monolith", "app="+image)
		kubectl(t, "-n", ns, "rollout", "status", "deploy/monolith", "--timeout=5m")
		testutil.Eventually(t, 60*time.Second, "the old pods to be gone", func() bool { return len(podsOf(t, ns)) == 3 })
		time.Sleep(3 * time.Second)
		ended := time.Now()
		r := l.count(began, ended.Add(-time.Second))
		t.Logf("rollout %d to %s (%s): %.1fs, Lease holders after it began: %v; %s",
			i+1, image, map[string]string{previousImage: rev, currentImage: "this release"}[image], ended.Sub(began).Seconds(), leases.since(began), r)
		r.check(t, false)
	}
}
