package clustere2e

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// The lease example in spread mode (LEADERJOB_SPREAD=on), 3 replicas on a
// real node, catch-up all:1m: the replicas that do not own the per-second
// job skip its fires as not_owner, and every fire is run by exactly one
// pod in steady state, through a kubectl rollout restart (every pod
// replaced, the job's owner among them) and through the deletion of the
// pod that owns the job: 0 lost, 0 doubled. The heartbeat (every 10 s)
// keeps its rhythm across all of it.
func TestSpreadLeaseExample(t *testing.T) {
	const ns = "spread-e2e"
	env := catchUpEnv()
	env["LEADERJOB_SPREAD"] = "on"
	shared(t)
	l := followLogs(t, ns)
	leases := watchLease(t, ns, "monolith")
	deploy(t, "lease", ns, env)

	// Steady state: the job runs on its owner alone; the others skip it
	// because another replica owns it.
	testutil.Eventually(t, 60*time.Second, "a pod to run "+fireJob, func() bool {
		return len(l.find(func(r record) bool { return r.ran(fireJob) })) > 0
	})
	time.Sleep(3 * time.Second)
	steady := time.Now()
	time.Sleep(6 * time.Second)
	l.count(steady, time.Now().Add(-time.Second)).check(t, false)
	owner := ownerOf(t, l, steady)
	notOwner := map[string]bool{} // pods that skipped the job as not_owner
	for _, r := range l.find(func(r record) bool {
		return r.Msg == "job run" && r.Job == fireJob && r.Reason == "not_owner" && r.Time.After(steady)
	}) {
		notOwner[r.Pod] = true
	}
	if len(notOwner) != 2 || notOwner[owner] {
		t.Errorf("%s runs on %s; pods that skipped it as not_owner: %v, want the two others", fireJob, owner, slices.Sorted(maps.Keys(notOwner)))
	}

	// A rollout restart replaces every pod, one at a time.
	rollouts(t, ns, l, leases, false, false)

	// The pod that owns the job is deleted (with its grace period): it
	// drains and leaves, and another pod runs the job.
	kubectl(t, "-n", ns, "rollout", "status", "deploy/monolith", "--timeout=2m")
	owner = ownerOf(t, l, time.Now().Add(-3*time.Second))
	began := time.Now()
	kubectl(t, "-n", ns, "delete", "pod", owner, "--wait=false")
	var next string
	testutil.Eventually(t, 30*time.Second, "another pod to run "+fireJob, func() bool {
		rs := l.find(func(r record) bool { return r.ran(fireJob) && r.Pod != owner && r.Time.After(began) })
		if len(rs) > 0 {
			next = rs[0].Pod
		}
		return next != ""
	})
	time.Sleep(3 * time.Second)
	g := l.count(began, time.Now().Add(-time.Second))
	t.Logf("owner %s deleted (grace period): %s runs %s; %s", owner, next, fireJob, g)
	g.check(t, false)

	runs, lost, doubled := rateTally(l.snapshot(), "heartbeat", 10*time.Second, steady, time.Now().Add(-2*time.Second))
	t.Logf("heartbeat (every 10s) over the whole test: %d runs, %d lost, %d doubled", runs, lost, len(doubled))
	for _, d := range doubled {
		t.Errorf("heartbeat ran twice within half a period: %s", d)
	}
	if lost > 0 {
		t.Errorf("heartbeat lost %d fires", lost)
	}
}

// ownerOf returns the pod that ran the latest fire of fireJob scheduled
// after since.
func ownerOf(t *testing.T, l *logs, since time.Time) string {
	t.Helper()
	var owner string
	var latest time.Time
	for _, r := range l.find(func(r record) bool { return r.ran(fireJob) && r.ScheduledAt.After(since) }) {
		if r.ScheduledAt.After(latest) {
			owner, latest = r.Pod, r.ScheduledAt
		}
	}
	if owner == "" {
		t.Fatalf("no run of %s scheduled after %s", fireJob, since.Format(time.TimeOnly))
	}
	return owner
}
