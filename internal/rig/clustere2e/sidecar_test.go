package clustere2e

import (
	"slices"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// The sidecar example, 3 replicas, with leaderjob-elector as a native
// sidecar on a real node: each fire run by exactly one pod in steady state
// and through a rollout restart, and in every stopped pod the app drained
// and stopped before its elector began to release the Lease.
func TestSidecarExample(t *testing.T) {
	const ns = "sidecar-e2e"
	shared(t)
	l := followLogs(t, ns)
	leases := watchLease(t, ns, "monolith-election")
	deploy(t, "sidecar", ns, fireEnv)

	checkRestrictedEnforced(t, ns)
	if out := kubectl(t, "-n", ns, "get", "pdb", "monolith", "-o", "jsonpath={.spec.maxUnavailable}"); out != "1" {
		t.Errorf("PodDisruptionBudget monolith: maxUnavailable %q, want 1", out)
	}
	testutil.Eventually(t, 30*time.Second, "an elector to hold the Lease", func() bool { return leases.current() != "" })
	if pods := runningPods(t, ns); len(pods) != 3 || !slices.Contains(pods, leases.current()) {
		t.Fatalf("Lease held by %q; running pods %v", leases.current(), pods)
	}

	steady := time.Now()
	time.Sleep(8 * time.Second)
	l.count(steady, time.Now().Add(-time.Second)).check(t, false)

	// Without a shared ledger (the sidecar example keeps it in memory) a
	// hand-over may lose the fires of its gap; it never doubles one.
	n := rollouts(t, ns, l, leases, true, false)

	// Native sidecar order, pod by pod: the app's "stopped" (drained)
	// comes before the elector's release.
	stopped := 0
	for _, app := range l.find(func(r record) bool { return r.Container == "app" && r.Msg == "stopped" }) {
		rel := l.find(func(r record) bool {
			return r.Pod == app.Pod && r.Container == "leader-elector" && r.Msg == "shutting down: releasing the Lease"
		})
		if len(rel) != 1 {
			t.Errorf("pod %s: the app stopped at %s but its elector logged %d releases", app.Pod, app.Time.Format(time.StampMilli), len(rel))
			continue
		}
		stopped++
		if rel[0].Time.Before(app.Time) {
			t.Errorf("pod %s: the elector began releasing at %s, before the app stopped at %s",
				app.Pod, rel[0].Time.Format(time.StampMilli), app.Time.Format(time.StampMilli))
		} else {
			t.Logf("pod %s: app stopped %s, elector releasing %s (+%v)", app.Pod, app.Time.Format(time.StampMilli),
				rel[0].Time.Format(time.StampMilli), rel[0].Time.Sub(app.Time).Round(time.Millisecond))
		}
	}
	if stopped != 3*n {
		t.Errorf("%d pods logged the app's stop and the elector's release, want the %d replaced", stopped, 3*n)
	}
}
