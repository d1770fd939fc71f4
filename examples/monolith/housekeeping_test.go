package main

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// These tests show how to unit-test scheduled jobs: register them exactly as
// main does, on a harness with a fake guard and a fake clock.

func newHarness(t *testing.T, env map[string]string) (*leaderjobtest.Harness, *Housekeeping) {
	t.Helper()
	h := leaderjobtest.New(t)
	hk := &Housekeeping{Sessions: newSessionStore(), Out: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := Register(h.App, hk, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	return h, hk
}

func TestLeaderRunsFollowerSkips(t *testing.T) {
	h, hk := newHarness(t, nil)
	hk.Sessions.Add("expired", time.Now().Add(-time.Minute))

	if r := h.Trigger("session-cleanup"); r.Outcome != guard.Ran || r.Err != nil {
		t.Fatalf("as leader: got %s (%v), want ran", r.Outcome, r.Err)
	}
	if n := hk.Sessions.Len(); n != 0 {
		t.Fatalf("sessions after cleanup = %d, want 0", n)
	}

	h.Guard.SetFollower("pod-b")
	hk.Sessions.Add("expired-too", time.Now().Add(-time.Minute))
	r := h.Trigger("session-cleanup")
	if r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader || r.Decision.Holder != "pod-b" {
		t.Fatalf("as follower: got %s/%s holder %q, want skipped/not_leader holder pod-b", r.Outcome, r.Reason, r.Decision.Holder)
	}
	if n := hk.Sessions.Len(); n != 1 {
		t.Fatalf("a follower touched the sessions: %d left, want 1", n)
	}
}

// The run is cancelled the moment its term ends. The test runs in a
// testing/synctest bubble: synctest.Wait returns once the run has begun and
// waits on its work, and the hour of work is on the bubble's clock.
func TestLosingLeadershipCancelsTheRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, hk := newHarness(t, nil)
		hk.Work = time.Hour // RefreshExchangeRates works for an hour unless cancelled
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- h.Trigger("exchange-rates").Err }()

		synctest.Wait() // the run has begun
		h.Guard.LoseLeadership()
		if err := <-done; !errors.Is(err, guard.ErrLeadershipLost) {
			t.Fatalf("run error = %v, want leadership lost", err)
		}
		if took := time.Since(start); took != 0 {
			t.Fatalf("the run went on for %v after leadership was lost", took)
		}
	})
}

func TestHeartbeatFollowsItsRate(t *testing.T) {
	h, _ := newHarness(t, map[string]string{"HEARTBEAT_RATE": "250ms"})
	h.Start()
	if r := h.Await("heartbeat"); r.Outcome != guard.Ran { // fixed rate: runs at start
		t.Fatalf("first heartbeat: %s", r.Outcome)
	}
	for i := 0; i < 3; i++ {
		h.Advance(250 * time.Millisecond)
		r := h.Await("heartbeat")
		if r.Outcome != guard.Ran || r.Decision.Holder != leaderjobtest.Identity {
			t.Fatalf("heartbeat %d: %s holder %q", i, r.Outcome, r.Decision.Holder)
		}
	}
}

func TestBadScheduleNamesJobAndValue(t *testing.T) {
	h := leaderjobtest.New(t)
	err := Register(h.App, &Housekeeping{Sessions: newSessionStore()}, func(k string) string {
		return map[string]string{"HEARTBEAT_RATE": "banana"}[k]
	})
	if err == nil || !contains(err.Error(), `"heartbeat"`, `"banana"`) {
		t.Fatalf("error = %v, want it to name the job and the value", err)
	}
}

func TestDailyReportCarriesTheEpoch(t *testing.T) {
	h, _ := newHarness(t, nil)
	h.Guard.LoseLeadership()
	h.Guard.SetLeader() // a second term: epoch 2
	r := h.Trigger("daily-report")
	if r.Outcome != guard.Ran || !r.Decision.HasEpoch || r.Decision.Epoch != 2 {
		t.Fatalf("got %s epoch %d (has %v), want ran with epoch 2", r.Outcome, r.Decision.Epoch, r.Decision.HasEpoch)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// The daily report uses the fire's key as a unique key: a second run of the
// same fire (the ledger's at-least-once case) sends nothing twice.
func TestDailyReportIsSentOncePerFire(t *testing.T) {
	h, hk := newHarness(t, map[string]string{"DAILY_REPORT_CRON": "0 0 2 * * *", "DAILY_REPORT_ZONE": "UTC"})
	var buf strings.Builder
	hk.Out = slog.New(slog.NewTextHandler(&buf, nil))
	h.Start()
	h.Advance(25 * time.Hour)
	if r := h.Await("daily-report"); r.Outcome != guard.Ran || !strings.HasSuffix(r.Key, "/daily-report/2026-01-05T02:00:00Z") {
		t.Fatalf("the 02:00 fire: %s key %q", r.Outcome, r.Key)
	}
	// Two runs of one fire: App.Trigger twice at the same (fake) time has
	// the same key.
	first, second := h.Trigger("daily-report"), h.Trigger("daily-report")
	if first.Key != second.Key || first.Outcome != guard.Ran || second.Outcome != guard.Ran {
		t.Fatalf("triggers: %q %s, %q %s", first.Key, first.Outcome, second.Key, second.Outcome)
	}
	if sent, again := strings.Count(buf.String(), "daily report sent"), strings.Count(buf.String(), "daily report already sent"); sent != 2 || again != 1 {
		t.Fatalf("%d reports sent and %d refused, want 2 (one per fire) and 1:\n%s", sent, again, buf.String())
	}
}
