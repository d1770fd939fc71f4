package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Least privilege on the real apiserver: a user with no grant gets an error
// that names the rule to add; a user bound to the example's operator Role
// (examples/kubernetes/operator) reads the status and pauses and resumes a
// job, without any write access to the ledger.
func TestOperatorLeastPrivilege(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "leastpriv")
	p := startProc(t, c, "leastpriv-a", "DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=latest:1m")
	dailyLeader(t, []*proc{p}, time.Time{}, 30*time.Second)

	ctl := cp.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	apply(ctx, t, ctl.Config(), "../../../examples/kubernetes/operator", c.namespace)
	as := func(user string, groups ...string) cluster {
		t.Helper()
		cfg, err := ctl.User(user, groups...)
		if err != nil {
			t.Fatal(err)
		}
		kc, err := ctl.WriteKubeconfig(cfg, c.namespace)
		if err != nil {
			t.Fatal(err)
		}
		return cluster{kubeconfig: kc, namespace: c.namespace}
	}

	nobody := as("nobody")
	for _, args := range [][]string{{"status", "monolith"}, {"pause", "monolith", "daily-report", "--reason", "x"}} {
		_, errOut, code := kubectlLeaderjob(t, nobody, args...)
		if code == 0 || !strings.Contains(errOut, "configmaps") || !strings.Contains(errOut, "forbidden") {
			t.Errorf("%v as a user with no grant: exit %d, stderr %q; want a failure naming the configmaps rule", args, code, errOut)
		}
	}

	ops := as("alice", "leaderjob-operators")
	out, errOut, code := kubectlLeaderjob(t, ops, "status", "monolith", "-o", "json")
	var doc any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("status as an operator: exit %d, stderr %q, out %q", code, errOut, out)
	}
	for _, cmd := range [][]string{{"pause", "monolith", "daily-report", "--reason", "maintenance"}, {"resume", "monolith", "daily-report"}} {
		if _, errOut, code := kubectlLeaderjob(t, ops, cmd...); code != 0 {
			t.Fatalf("%v as an operator: exit %d, stderr %q", cmd, code, errOut)
		}
	}
}

// A pause lives in the control object, not in any process: it holds after
// every replica is replaced, until it is resumed.
func TestPauseSurvivesARestartOfEveryReplica(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "restart")
	env := []string{"DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=all:1m",
		"HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H"}
	old := []*proc{startProc(t, c, "restart-a", env...), startProc(t, c, "restart-b", env...)}
	dailyLeader(t, old, time.Time{}, 30*time.Second)
	if _, errOut, code := kubectlLeaderjob(t, c, "pause", "monolith", "daily-report", "--reason", "migration"); code != 0 {
		t.Fatalf("pause: exit %d, stderr %q", code, errOut)
	}
	for _, p := range old {
		p.signal(t, syscall.SIGKILL)
		p.waitExit(t, 5*time.Second)
	}
	fresh := []*proc{startProc(t, c, "restart-c", env...), startProc(t, c, "restart-d", env...)}
	time.Sleep(8 * time.Second) // the Lease expires, a new leader reads the pause and skips the fires
	if runs := dailyRuns(fresh, func(record) bool { return true }); len(runs) > 0 {
		t.Fatalf("the replaced fleet ran the paused job %d times (first at %v)", len(runs), runs[0].ScheduledAt)
	}
	paused := 0
	for _, p := range fresh {
		for _, r := range p.snapshot() {
			if r.Msg == "job run" && r.Job == "daily-report" && r.Reason == "paused" {
				paused++
			}
		}
	}
	if paused == 0 {
		t.Fatal("no fire skipped as paused by the replaced fleet")
	}
	if _, errOut, code := kubectlLeaderjob(t, c, "resume", "monolith", "daily-report"); code != 0 {
		t.Fatalf("resume: exit %d, stderr %q", code, errOut)
	}
	resumed := time.Now()
	dailyLeader(t, fresh, resumed, 10*time.Second)
	t.Logf("after a restart of every replica: %d fires skipped as paused, runs again after the resume", paused)
}
