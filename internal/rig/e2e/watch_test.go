package e2e

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// kubectl leaderjob status --watch, run as a process against a real
// apiserver while the example runs: it writes a refresh per --interval,
// each a header and the app's table naming the leader, and exits 0 on
// SIGINT.
func TestStatusWatch(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "monolith")
	p := startProc(t, c, "watch-a", "DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=latest:1m",
		"HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H")
	// The ledger exists once a fire is claimed.
	testutil.Eventually(t, 30*time.Second, "a daily-report run", func() bool {
		return len(dailyRuns([]*proc{p}, func(record) bool { return true })) > 0
	})

	cmd := exec.Command(plugin(t), "--kubeconfig", c.kubeconfig, "-n", c.namespace, "status", "monolith", "--watch", "--interval", "300ms")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Two refreshes, each a header, then the app's line naming the leader.
	var headers []time.Time
	leaderLines := 0
	deadline := time.After(30 * time.Second)
	for len(headers) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("status --watch ended after %d refreshes: %s", len(headers), stderr.String())
			}
			switch {
			case strings.HasPrefix(l, "Every 300ms: kubectl leaderjob status monolith (namespace "+c.namespace+")"):
				headers = append(headers, time.Now())
			case strings.HasPrefix(l, "APP monolith") && strings.Contains(l, "LEADER watch-a"):
				leaderLines++
			}
		case <-deadline:
			t.Fatalf("%d refreshes within 30s: %s", len(headers), stderr.String())
		}
	}
	if leaderLines < 2 {
		t.Errorf("%d refreshes named the leader watch-a, want each", leaderLines)
	}
	t.Logf("refreshes at %v and %v after start", headers[1].Sub(started).Round(time.Millisecond), headers[2].Sub(started).Round(time.Millisecond))
	if gap := headers[2].Sub(headers[1]); gap < 250*time.Millisecond || gap > 5*time.Second {
		t.Errorf("%v between refreshes with --interval 300ms", gap)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range lines {
		}
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("status --watch after SIGINT: %v (want exit 0): %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Error("status --watch still running 10s after SIGINT")
	}
}
