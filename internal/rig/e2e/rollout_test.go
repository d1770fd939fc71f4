package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// rollouts is how many rolling updates TestRollingUpdateMovesLeadershipOnce
// makes: 2, or 10 with LEADERJOB_MEASURE=1.
func rollouts() int {
	if os.Getenv("LEADERJOB_MEASURE") == "1" {
		return 10
	}
	return 2
}

// Rolling updates of three replicas as a Deployment with maxSurge 1 and
// maxUnavailable 0 makes them: a replica of the new pod template starts,
// and once it is up an old one is stopped (SIGTERM), three times. The
// leader hands the Lease to a replica of the new template when it stops,
// so that each rollout moves leadership exactly once, wherever the old
// leader falls in the order; and no fire of a per-second job is lost or
// doubled (the catch-up policy runs the fires due in the hand-off).
func TestRollingUpdateMovesLeadershipOnce(t *testing.T) {
	t.Parallel()
	policies := []string{"all:1m"}
	if os.Getenv("LEADERJOB_MEASURE") == "1" {
		policies = append(policies, "off") // what a hand-off costs without catch-up
	}
	for _, policy := range policies {
		t.Run("catch-up "+policy, func(t *testing.T) {
			t.Parallel()
			rollingUpdates(t, policy)
		})
	}
}

// rollingUpdates makes the rolling updates with the catch-up policy given;
// without catch-up, fires lost in the hand-offs are reported, not failed.
func rollingUpdates(t *testing.T, policy string) {
	c := newCluster(t, "rollout")
	cs, err := cp.Get(t).Client()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=" + policy,
		"HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H"}
	var all []*proc
	start := func(name, hash string) *proc {
		p := startProc(t, c, name, append(slices.Clone(env), "LEADERJOB_POD_TEMPLATE_HASH="+hash)...)
		all = append(all, p)
		// Up, as a readiness probe sees it: the guard is not ready until
		// the replica is recorded as a hand-off candidate.
		testutil.Eventually(t, 20*time.Second, name+" recorded as a candidate", func() bool {
			l, err := cs.CoordinationV1().Leases(c.namespace).Get(context.Background(), c.lease+lease.CandidatesSuffix, metav1.GetOptions{})
			return err == nil && l.Annotations[lease.CandidateAnnotationPrefix+name] != ""
		})
		return p
	}
	transitions := func() int32 {
		l, err := cs.CoordinationV1().Leases(c.namespace).Get(context.Background(), c.lease, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *l.Spec.LeaseTransitions
	}
	fleet := []*proc{start("r0-a", "h0"), start("r0-b", "h0"), start("r0-c", "h0")}
	dailyLeader(t, fleet, time.Time{}, 30*time.Second)
	time.Sleep(2 * time.Second)

	var changes []int32
	var gaps []time.Duration
	for k := 1; k <= rollouts(); k++ {
		before := transitions()
		leader := dailyLeader(t, fleet, time.Now().Add(-1500*time.Millisecond), 10*time.Second)
		for i := range 3 {
			next := start(fmt.Sprintf("r%d-%c", k, 'a'+i), fmt.Sprintf("h%d", k))
			old := fleet[0]
			stopped := old.signal(t, syscall.SIGTERM)
			old.waitExit(t, 30*time.Second)
			fleet = append(fleet[1:], next)
			if old == leader {
				nl := dailyLeader(t, fleet, stopped, 10*time.Second)
				for _, r := range nl.snapshot() {
					if r.Msg == "job run" && r.Job == "daily-report" && r.Outcome == "ran" && r.Time.After(stopped) {
						gaps = append(gaps, r.Time.Sub(stopped).Round(time.Millisecond))
						break
					}
				}
			}
		}
		time.Sleep(1500 * time.Millisecond)
		changes = append(changes, transitions()-before)
	}
	time.Sleep(3 * time.Second)
	end := time.Now().Add(-2 * time.Second).Truncate(time.Second)
	lost, doubled, catchUps, reruns, first := countFires(t, all, end)
	slices.Sort(gaps)
	t.Logf("%d rollouts of 3 replicas: leader changes per rollout %v; from the old leader's SIGTERM to the new leader's first run: %v; fires from %s to %s: %d lost, %d doubled, %d re-run, %d run by catch-up",
		rollouts(), changes, gaps, first.Format(time.TimeOnly), end.Format(time.TimeOnly), len(lost), doubled, reruns, catchUps)
	for k, n := range changes {
		if n != 1 {
			t.Errorf("rollout %d moved leadership %d times, want 1", k+1, n)
		}
	}
	if len(lost) > 0 && policy != "off" {
		t.Errorf("%d fires never ran: %v", len(lost), lost)
	}
}
