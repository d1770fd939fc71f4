package leaderjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// replica is one App of a fleet that shares a ledger, on its own fake clock.
func replica(t *testing.T, l ledger.Ledger, start time.Time, opts ...leaderjob.Option) *leaderjobtest.Harness {
	t.Helper()
	return leaderjobtest.New(t, leaderjobtest.WithStartTime(start),
		leaderjobtest.WithAppOptions(append([]leaderjob.Option{leaderjob.WithLedger(l), leaderjob.WithVersion("v1")}, opts...)...))
}

// A one-shot job runs once per app and release, on whichever replica leads:
// a restart or another replica of the same release does not run it again;
// a new release does.
func TestOnceRunsOncePerRelease(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	runs := 0
	job := func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		if info.Key != "TestOnceRunsOncePerRelease/migrate@v1" && info.Key != "TestOnceRunsOncePerRelease/migrate@v2" {
			t.Errorf("key %q", info.Key)
		}
		runs++
		return nil
	}
	for i, version := range []string{"v1", "v1", "v2"} {
		h := replica(t, l, t0.Add(time.Duration(i)*time.Hour), leaderjob.WithVersion(version))
		noErr(t, h.App.Schedule("migrate", leaderjob.Once(), job))
		h.Start()
		r := h.Await("migrate")
		noErr(t, h.Stop())
		switch i {
		case 0, 2:
			if r.Outcome != guard.Ran {
				t.Fatalf("start %d (%s): %s/%s %v, want ran", i, version, r.Outcome, r.Reason, r.Err)
			}
		case 1:
			if r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonHandled {
				t.Fatalf("restart of the same release: %s/%s, want skipped/handled", r.Outcome, r.Reason)
			}
		}
	}
	if runs != 2 {
		t.Fatalf("%d runs, want one per release (2)", runs)
	}
}

// A replica that becomes leader runs, oldest first, the fires the fleet
// missed within the window, with their original scheduled time and the
// catch-up flag, and then goes on with its schedule.
func TestCatchUpAllRunsTheMissedFires(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))

	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("tick", every10s, nop, policy))
	a.Start()
	a.Advance(30 * time.Second) // runs 10s, 20s, 30s
	noErr(t, a.Stop())

	// Nobody runs from 40s to 80s; at 85s another replica starts alone.
	b := replica(t, l, t0.Add(85*time.Second))
	noErr(t, b.App.Schedule("tick", every10s, nop, policy))
	b.Start()
	for _, want := range []time.Duration{40, 50, 60, 70, 80} {
		r := b.Await("tick")
		if r.Outcome != guard.Ran || !r.CatchUp || !r.ScheduledAt.Equal(t0.Add(want*time.Second)) {
			t.Fatalf("catch-up run: %s/%s catch-up %v at %v, want a catch-up run at +%ds", r.Outcome, r.Reason, r.CatchUp, r.ScheduledAt, want)
		}
		if r.Key != "TestCatchUpAllRunsTheMissedFires/tick/"+t0.Add(want*time.Second).Format(time.RFC3339Nano) {
			t.Fatalf("key %q", r.Key)
		}
	}
	b.Advance(5 * time.Second)
	if r := b.Await("tick"); r.Outcome != guard.Ran || r.CatchUp || !r.ScheduledAt.Equal(t0.Add(90*time.Second)) {
		t.Fatalf("the next fire: %s catch-up %v at %v", r.Outcome, r.CatchUp, r.ScheduledAt)
	}
}

// latest runs only the most recent missed fire.
func TestCatchUpLatestRunsOne(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpLatest(time.Minute))
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("tick", every10s, nop, policy))
	a.Start()
	a.Advance(10 * time.Second)
	noErr(t, a.Stop())

	b := replica(t, l, t0.Add(45*time.Second))
	noErr(t, b.App.Schedule("tick", every10s, nop, policy))
	b.Start()
	r := b.Await("tick")
	if r.Outcome != guard.Ran || !r.CatchUp || !r.ScheduledAt.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("catch-up: %s catch-up %v at %v, want the one at +40s", r.Outcome, r.CatchUp, r.ScheduledAt)
	}
	b.Advance(5 * time.Second)
	if r := b.Await("tick"); r.CatchUp || !r.ScheduledAt.Equal(t0.Add(50*time.Second)) {
		t.Fatalf("after the catch-up: catch-up %v at %v, want the regular fire at +50s", r.CatchUp, r.ScheduledAt)
	}
}

// A leader whose term was taken over (a higher epoch has written the
// ledger) cannot claim: its fire is skipped as fenced.
func TestDeposedLeaderIsFenced(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithClaim()

	old := replica(t, l, t0) // epoch 1
	noErr(t, old.App.Schedule("tick", every, nop, policy))
	next := replica(t, l, t0, leaderjob.WithIdentity("pod-b"))
	next.Guard.SetFollower("")
	next.Guard.SetLeader() // epoch 2
	noErr(t, next.App.Schedule("tick", every, nop, policy))
	next.Start()
	next.Advance(10 * time.Second)
	if r := next.Await("tick"); r.Outcome != guard.Ran {
		t.Fatalf("the new leader: %s/%s %v", r.Outcome, r.Reason, r.Err)
	}
	old.Start()
	old.Advance(20 * time.Second)
	for range 2 {
		if r := old.Await("tick"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonFenced {
			t.Fatalf("the deposed leader: %s/%s %v, want skipped/fenced", r.Outcome, r.Reason, r.Err)
		}
	}
}

// A claim that cannot be written skips the run: fail closed.
func TestUnwritableLedgerSkipsTheRun(t *testing.T) {
	h := replica(t, ledger.NewLedger(ledger.NewMemoryLimit(10)), t0) // any write exceeds 10 bytes
	noErr(t, h.App.Schedule("tick", leaderjob.Cron("*/10 * * * * *").InZone("UTC"), nop, leaderjob.WithClaim()))
	h.Start()
	h.Advance(10 * time.Second)
	if r := h.Await("tick"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonLedgerUnavailable {
		t.Fatalf("%s/%s %v, want skipped/ledger_unavailable", r.Outcome, r.Reason, r.Err)
	}
}

// A start-up fire of a fixed-rate job runs only if the fleet did not run the
// job within the last period: a rolling update does not run it early.
func TestStartUpFireWaitsForThePeriod(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	hourly := leaderjob.FixedRate(time.Hour)
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("report", hourly, nop, leaderjob.WithClaim()))
	a.Start()
	if r := a.Await("report"); r.Outcome != guard.Ran {
		t.Fatalf("first start-up fire: %s/%s", r.Outcome, r.Reason)
	}
	noErr(t, a.Stop())
	b := replica(t, l, t0.Add(10*time.Minute)) // a new pod of the rollout
	noErr(t, b.App.Schedule("report", hourly, nop, leaderjob.WithClaim()))
	b.Start()
	if r := b.Await("report"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonNotDue {
		t.Fatalf("start-up fire 10 min later: %s/%s, want skipped/not_due", r.Outcome, r.Reason)
	}
	c := replica(t, l, t0.Add(2*time.Hour))
	noErr(t, c.App.Schedule("report", hourly, nop, leaderjob.WithClaim()))
	c.Start()
	if r := c.Await("report"); r.Outcome != guard.Ran {
		t.Fatalf("start-up fire 2h later: %s/%s, want ran", r.Outcome, r.Reason)
	}
}

func TestParseCatchUp(t *testing.T) {
	for in, want := range map[string]string{"": "off", "off": "off", "latest:10m": "latest:10m0s", "all:PT1H": "all:1h0m0s", "ALL:60000": "all:1m0s"} {
		c, err := leaderjob.ParseCatchUp(in)
		if err != nil || c.String() != want {
			t.Errorf("ParseCatchUp(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, bad := range []string{"sometimes", "all", "all:soon", "latest:-5m", "all:0s"} {
		if _, err := leaderjob.ParseCatchUp(bad); err == nil {
			t.Errorf("ParseCatchUp(%q) accepted", bad)
		}
	}
	_, err := leaderjob.New("app", leaderjob.WithEnv(envOf(map[string]string{"LEADERJOB_CATCH_UP": "all:soon"})), leaderjob.WithGuard(guard.Always))
	if err == nil || !strings.Contains(err.Error(), "LEADERJOB_CATCH_UP") || !strings.Contains(err.Error(), "all:soon") {
		t.Fatalf("bad LEADERJOB_CATCH_UP: %v", err)
	}
}

// Every replica's /jobs answers for the fleet from the ledger: a standby
// names the leader's last run, its outcome and its duration.
func TestJobsEndpointShowsTheFleetsLastRuns(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	leader := replica(t, l, t0, leaderjob.WithIdentity("pod-a"))
	noErr(t, leader.App.Schedule("report", leaderjob.Cron("0 * * * * *").InZone("UTC"), func(context.Context) error {
		return errors.New("smtp: connection refused")
	}, leaderjob.WithClaim()))
	leader.Start()
	leader.Advance(time.Minute)
	leader.Await("report")

	standby, _ := newApp(t, leaderjob.WithLedger(l), leaderjob.WithGuard(guardtest.Follower("pod-a")), leaderjob.WithHTTPAddr("127.0.0.1:0"))
	noErr(t, standby.Schedule("report", leaderjob.Cron("0 * * * * *").InZone("UTC"), nop, leaderjob.WithClaim()))
	startApp(t, standby)
	code, body := get(t, "http://"+standby.HTTPAddr()+"/jobs")
	var resp leaderjob.JobsResponse
	if code != http.StatusOK || json.Unmarshal([]byte(body), &resp) != nil || len(resp.Jobs) != 1 {
		t.Fatalf("/jobs = %d %s", code, body)
	}
	j := resp.Jobs[0]
	if j.Completed == nil || j.Completed.Holder != "pod-a" || j.Completed.Outcome != "failed" ||
		!strings.Contains(j.Completed.Error, "connection refused") || !j.Completed.At.Equal(t0.Add(time.Minute)) || !j.Claims {
		t.Fatalf("/jobs on a standby: %s", body)
	}
	if resp.Fence.N != 1 || j.NextRun == nil {
		t.Fatalf("/jobs: fence %+v, next run %v", resp.Fence, j.NextRun)
	}
}

// A new leader continues the fleet's rhythm for a claimed fixed-rate job:
// its fires move onto the grid through the last claimed fire, instead of
// counting from its own start.
func TestNewLeaderKeepsTheFleetsRhythm(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every := leaderjob.FixedRate(time.Minute)
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("sync", every, nop, leaderjob.WithClaim()))
	a.Start()
	a.Advance(2 * time.Minute) // 0, 1m, 2m
	noErr(t, a.Stop())

	b := replica(t, l, t0.Add(2*time.Minute+30*time.Second))
	noErr(t, b.App.Schedule("sync", every, nop, leaderjob.WithClaim()))
	b.Start()
	if r := b.Await("sync"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonNotDue {
		t.Fatalf("start-up fire 30s after the fleet's last: %s/%s, want skipped/not_due", r.Outcome, r.Reason)
	}
	testutil.Eventually(t, bound, "the next run on the fleet's grid, at +3m", func() bool {
		s := b.App.Status(context.Background())
		return s.Jobs[0].NextRun != nil && s.Jobs[0].NextRun.Equal(t0.Add(3*time.Minute))
	})
	b.Advance(2 * time.Minute)
	for _, want := range []time.Duration{3 * time.Minute, 4 * time.Minute} {
		if r := b.Await("sync"); r.Outcome != guard.Ran || !r.ScheduledAt.Equal(t0.Add(want)) {
			t.Fatalf("fire: %s at %v, want ran at +%v (the fleet's grid)", r.Outcome, r.ScheduledAt.Sub(t0), want)
		}
	}
}

// A replica whose clock is behind the fleet's (a clock step) warns, and runs
// nothing the fleet ran: its claims of fires the fleet has passed are
// refused as handled.
func TestClockBehindTheFleetRunsNothingTwice(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("tick", every10s, nop, policy))
	a.Start()
	a.Advance(time.Minute) // 10s .. 60s
	noErr(t, a.Stop())

	sink := &logSink{}
	b := replica(t, l, t0.Add(15*time.Second), leaderjob.WithLogger(sink.logger())) // 45s behind
	noErr(t, b.App.Schedule("tick", every10s, nop, policy))
	b.Start()
	b.Advance(50 * time.Second) // its 20s .. 60s: all run by the fleet already
	for range 5 {
		if r := b.Await("tick"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonHandled {
			t.Fatalf("a fire the fleet ran: %s/%s at %v, want skipped/handled", r.Outcome, r.Reason, r.ScheduledAt)
		}
	}
	b.Advance(10 * time.Second) // 70s: new
	if r := b.Await("tick"); r.Outcome != guard.Ran || !r.ScheduledAt.Equal(t0.Add(70*time.Second)) {
		t.Fatalf("the first new fire: %s at %v", r.Outcome, r.ScheduledAt)
	}
	warned := false
	for _, rec := range sink.records(t) {
		if rec.str("level") == "WARN" && strings.Contains(rec.str("msg"), "clock is behind") {
			warned = true
		}
	}
	if !warned {
		t.Error("no warning about the clock")
	}
}

// A run cut short by the end of its term is not completed in the ledger: the
// next leader runs the fire again, under the same key, flagged as a re-run.
func TestCutShortRunIsRunAgainByTheNextLeader(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every := leaderjob.Cron("0 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(10 * time.Minute))
	a := replica(t, l, t0)
	started := make(chan struct{})
	noErr(t, a.App.Schedule("import", every, func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	}, policy))
	a.Hold("import")
	a.Start()
	a.Advance(time.Minute)
	<-started
	a.Guard.SetFollower("pod-b") // the term ends mid-run
	first := a.Await("import")
	if first.Outcome != guard.Canceled {
		t.Fatalf("the cut-short run: %s (%v)", first.Outcome, first.Err)
	}
	noErr(t, a.Stop())

	b := replica(t, l, t0.Add(90*time.Second), leaderjob.WithIdentity("pod-b"))
	noErr(t, b.App.Schedule("import", every, nop, policy))
	b.Start()
	r := b.Await("import")
	if r.Outcome != guard.Ran || !r.CatchUp || !r.ScheduledAt.Equal(first.ScheduledAt) || r.Key != first.Key {
		t.Fatalf("the next leader: %s catch-up %v at %v key %q, want a re-run of %v (%q)", r.Outcome, r.CatchUp, r.ScheduledAt, r.Key, first.ScheduledAt, first.Key)
	}
}
