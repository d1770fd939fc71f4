package clustere2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// The lease example, 3 replicas, on a real node: Pod Security "restricted"
// enforced, the PodDisruptionBudget in place, the Lease held by a pod's
// downward-API name; every fire run by exactly one pod in steady state,
// through a rollout restart, a deleted leader and a force-deleted leader;
// with catch-up on, no fire lost either.
func TestLeaseExample(t *testing.T) {
	const ns = "lease-e2e"
	env := catchUpEnv()
	shared(t)
	l := followLogs(t, ns)
	leases := watchLease(t, ns, "monolith")
	deploy(t, "lease", ns, env)

	// The shipped manifests on a real node.
	checkRestrictedEnforced(t, ns)
	if out := kubectl(t, "-n", ns, "get", "pdb", "monolith", "-o", "jsonpath={.spec.maxUnavailable}"); out != "1" {
		t.Errorf("PodDisruptionBudget monolith: maxUnavailable %q, want 1", out)
	}
	testutil.Eventually(t, 30*time.Second, "a pod to hold the Lease", func() bool { return leases.current() != "" })
	pods := runningPods(t, ns)
	if len(pods) != 3 || !slices.Contains(pods, leases.current()) {
		t.Fatalf("Lease held by %q; running pods %v (POD_NAME comes from the downward API)", leases.current(), pods)
	}

	// Steady state: each fire by exactly one pod, the holder.
	steady := time.Now()
	time.Sleep(8 * time.Second)
	s := l.count(steady, time.Now().Add(-time.Second))
	s.check(t, false)
	for _, r := range l.find(func(r record) bool { return r.ran(fireJob) && r.Time.After(steady) }) {
		if r.Pod != leases.current() {
			t.Errorf("fire at %s ran on %s; the Lease holder is %s", r.ScheduledAt.Format(time.TimeOnly), r.Pod, leases.current())
		}
	}

	// Rollout restarts replace every pod, one at a time.
	rollouts(t, ns, l, leases, false, true)

	// A leader deleted with its grace period drains and releases the Lease:
	// a standby runs at once.
	leader := leases.current()
	began := time.Now()
	kubectl(t, "-n", ns, "delete", "pod", leader, "--wait=false")
	testutil.Eventually(t, 30*time.Second, "a new holder", func() bool { h := leases.current(); return h != "" && h != leader })
	next := leases.current()
	testutil.Eventually(t, 10*time.Second, "the new holder's first run", func() bool {
		return len(l.find(func(r record) bool { return r.ran(fireJob) && r.Pod == next })) > 0
	})
	time.Sleep(3 * time.Second)
	g := l.count(began, time.Now().Add(-time.Second))
	t.Logf("leader %s deleted (grace period): %s took over; %s", leader, next, g)
	g.check(t, false)
	if g.maxLate > time.Second {
		t.Errorf("a fire ran %.2fs after its time across a graceful hand-over, want at most 1s", g.maxLate.Seconds())
	}

	// A leader force-deleted: its pod object is gone at once, and the
	// kubelet stops it (still with SIGTERM, after which it has 2 s); the
	// next leader takes over within the lease bound at worst.
	kubectl(t, "-n", ns, "rollout", "status", "deploy/monolith", "--timeout=2m")
	leader = leases.current()
	began = time.Now()
	kubectl(t, "-n", ns, "delete", "pod", leader, "--grace-period=0", "--force")
	testutil.Eventually(t, 30*time.Second, "a new holder", func() bool { h := leases.current(); return h != "" && h != leader })
	next = leases.current()
	testutil.Eventually(t, 30*time.Second, "the new holder's first run", func() bool {
		return len(l.find(func(r record) bool { return r.ran(fireJob) && r.Pod == next })) > 0
	})
	time.Sleep(3 * time.Second)
	f := l.count(began, time.Now().Add(-time.Second))
	sigterm := len(l.find(func(r record) bool { return r.Pod == leader && r.Msg == "shutting down" })) > 0
	t.Logf("leader %s force-deleted (the kubelet still stopped it with SIGTERM: %v): %s took over; %s", leader, sigterm, next, f)
	f.check(t, false)
	if bound := 15*time.Second + 2*time.Second; f.maxLate > bound {
		t.Errorf("a fire ran %.2fs after its time across a forced deletion, want at most the lease duration plus a retry (%v)", f.maxLate.Seconds(), bound)
	}

	// The heartbeat, every 10 s as shipped, claimed (the example sets a
	// catch-up policy) and so kept on the fleet's rhythm across every
	// hand-over above.
	runs, lost, doubled := rateTally(l.snapshot(), "heartbeat", 10*time.Second, steady, time.Now().Add(-2*time.Second))
	t.Logf("heartbeat (every 10s) over the whole test: %d runs, %d lost, %d doubled", runs, lost, len(doubled))
	for _, d := range doubled {
		t.Errorf("heartbeat ran twice within half a period: %s", d)
	}
	if lost > 0 {
		t.Errorf("heartbeat lost %d fires", lost)
	}
}

// checkRestrictedEnforced checks that ns enforces Pod Security
// "restricted": a pod that asks for privilege escalation is refused.
func checkRestrictedEnforced(t *testing.T, ns string) {
	t.Helper()
	out, err := kubectlErr("-n", ns, "run", "escalates", "--image=example.com/monolith:1.0.0", "--restart=Never",
		"--dry-run=server", "--overrides", `{"spec":{"containers":[{"name":"escalates","image":"example.com/monolith:1.0.0","securityContext":{"allowPrivilegeEscalation":true}}]}}`)
	if err == nil || !strings.Contains(out, "violates PodSecurity") {
		t.Errorf("namespace %s admits a pod that violates restricted (err %v):\n%s", ns, err, out)
	}
}

// podsOf returns the names of every pod in ns, terminating ones too.
func podsOf(t *testing.T, ns string) []string {
	t.Helper()
	list, err := client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}
