package leaderjob_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// The harness's fake clock starts at t0 (Monday 2026-01-05 00:00 UTC).
var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// gate is a job that reports each start and then blocks until the test
// lets it finish; it counts how many of its runs overlap.
type gate struct {
	started  chan time.Time // the job's context deadline-free start signal
	release  chan struct{}
	running  atomic.Int32
	overlaps atomic.Int32
}

func newGate() *gate {
	return &gate{started: make(chan time.Time, 16), release: make(chan struct{}, 16)}
}

func (g *gate) job(ctx context.Context) error {
	if g.running.Add(1) > 1 {
		g.overlaps.Add(1)
	}
	defer g.running.Add(-1)
	info, _ := leaderjob.RunInfoFrom(ctx)
	g.started <- info.ScheduledAt
	<-g.release
	return nil
}

func scheduled(t *testing.T, r leaderjob.Result, want time.Time) {
	t.Helper()
	if !r.ScheduledAt.Equal(want) {
		t.Fatalf("run of %s scheduled at %v, want %v", r.Job, r.ScheduledAt.UTC(), want.UTC())
	}
}

func TestPanicsAreRecoveredAndTheScheduleContinues(t *testing.T) {
	sink := &logSink{}
	h := leaderjobtest.New(t, leaderjobtest.WithAppOptions(leaderjob.WithLogger(sink.logger())))
	noErr(t, h.App.Schedule("explodes", leaderjob.FixedRate(time.Minute), func(context.Context) error {
		panic("index out of range")
	}))
	h.Start()
	for i := range 3 {
		if i > 0 {
			h.Advance(time.Minute)
		}
		r := h.Await("explodes")
		var pe *guard.PanicError
		if r.Outcome != guard.Panicked || !errors.As(r.Err, &pe) || pe.Value != "index out of range" {
			t.Fatalf("fire %d: %s (%v), want panicked with the panic value", i, r.Outcome, r.Err)
		}
		scheduled(t, r, t0.Add(time.Duration(i)*time.Minute))
	}
	recs := sink.runs(t, "explodes")
	if len(recs) != 3 {
		t.Fatalf("%d run records, want 3", len(recs))
	}
	for _, rec := range recs {
		if rec.str("level") != "ERROR" || rec.str("outcome") != "panicked" || !strings.Contains(rec.str("stack"), "goroutine") {
			t.Fatalf("panic record %v, want ERROR with outcome panicked and a stack", rec)
		}
	}
	noErr(t, h.Stop())
}

func TestFailedRunIsLoggedAndTheScheduleContinues(t *testing.T) {
	sink := &logSink{}
	h := leaderjobtest.New(t, leaderjobtest.WithAppOptions(leaderjob.WithLogger(sink.logger())))
	var n atomic.Int32
	noErr(t, h.App.Schedule("flaky", leaderjob.FixedDelay(30*time.Second), func(context.Context) error {
		if n.Add(1) == 1 {
			return errors.New("upstream said 503")
		}
		return nil
	}))
	h.Start()
	if r := h.Await("flaky"); r.Outcome != guard.Failed || r.Err == nil || r.Err.Error() != "upstream said 503" {
		t.Fatalf("first run: %s (%v), want failed", r.Outcome, r.Err)
	}
	h.Advance(30 * time.Second)
	r := h.Await("flaky")
	if r.Outcome != guard.Ran {
		t.Fatalf("run after the failure: %s (%v), want ran", r.Outcome, r.Err)
	}
	scheduled(t, r, t0.Add(30*time.Second))

	recs := sink.runs(t, "flaky")
	if len(recs) != 2 {
		t.Fatalf("%d run records, want 2", len(recs))
	}
	if recs[0].str("level") != "ERROR" || recs[0].str("outcome") != "failed" || recs[0].str("error") != "upstream said 503" {
		t.Errorf("failure record %v, want ERROR, failed, the job's error", recs[0])
	}
	if recs[1].str("level") != "INFO" || recs[1].str("outcome") != "ran" {
		t.Errorf("success record %v, want INFO, ran", recs[1])
	}
}

// fixedRate counts the period from the start of a run; fixedDelay from its
// completion. Each job below starts at t0+1m and runs for 30s of fake time.
func TestFixedRateCountsFromTheStart(t *testing.T) {
	h := leaderjobtest.New(t)
	g := newGate()
	noErr(t, h.App.Schedule("rate", leaderjob.FixedRate(time.Minute).WithInitialDelay(time.Minute), g.job))
	h.Hold("rate")
	h.Start()
	h.Advance(time.Minute)
	if at := recv(t, g.started, "the first run"); !at.Equal(t0.Add(time.Minute)) {
		t.Fatalf("first run scheduled at %v", at)
	}
	h.Clock.Advance(30 * time.Second) // the run takes 30s
	g.release <- struct{}{}
	scheduled(t, h.Await("rate"), t0.Add(time.Minute))

	h.Advance(30 * time.Second) // t0+2m: one period after the first start
	at := recv(t, g.started, "the second run")
	g.release <- struct{}{}
	if !at.Equal(t0.Add(2 * time.Minute)) {
		t.Fatalf("second run scheduled at %v, want t0+2m", at.UTC())
	}
	scheduled(t, h.Await("rate"), t0.Add(2*time.Minute))
}

func TestFixedDelayCountsFromCompletion(t *testing.T) {
	h := leaderjobtest.New(t)
	g := newGate()
	noErr(t, h.App.Schedule("delay", leaderjob.FixedDelay(time.Minute).WithInitialDelay(time.Minute), g.job))
	h.Hold("delay")
	h.Start()
	h.Advance(time.Minute)
	recv(t, g.started, "the first run")
	h.Clock.Advance(30 * time.Second) // the run takes 30s: it completes at t0+1m30s
	g.release <- struct{}{}
	scheduled(t, h.Await("delay"), t0.Add(time.Minute))

	h.Advance(30 * time.Second) // t0+2m: a fixed rate would fire here
	h.Advance(30 * time.Second) // t0+2m30s: one period after completion
	at := recv(t, g.started, "the second run")
	g.release <- struct{}{}
	if !at.Equal(t0.Add(2*time.Minute + 30*time.Second)) {
		t.Fatalf("second run scheduled at %v, want t0+2m30s", at.UTC())
	}
	h.Await("delay")
	if n := len(h.Results()); n != 2 {
		t.Fatalf("%d results, want 2", n)
	}
}

// A fire that comes while the previous run is still going is skipped with a
// record, and the runs never overlap.
func TestFixedRateNeverOverlaps(t *testing.T) {
	h := leaderjobtest.New(t)
	g := newGate()
	noErr(t, h.App.Schedule("slow", leaderjob.FixedRate(time.Minute), g.job))
	h.Hold("slow")
	h.Start()
	recv(t, g.started, "the first run")

	h.Advance(time.Minute) // the first run is still going
	r := h.Await("slow")
	if r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonAlreadyRunning {
		t.Fatalf("overlapping fire: %s/%s, want skipped/already_running", r.Outcome, r.Reason)
	}
	scheduled(t, r, t0.Add(time.Minute))

	g.release <- struct{}{}
	if r := h.Await("slow"); r.Outcome != guard.Ran {
		t.Fatalf("first run: %s", r.Outcome)
	}
	h.Advance(time.Minute)
	recv(t, g.started, "the run after the skipped fire")
	g.release <- struct{}{}
	r = h.Await("slow")
	if r.Outcome != guard.Ran {
		for _, x := range h.Results() {
			t.Logf("%s %s %s %v", x.Job, x.Outcome, x.Reason, x.ScheduledAt)
		}
		t.Fatalf("run after the skip: %s (%v)", r.Outcome, r.Err)
	}
	scheduled(t, r, t0.Add(2*time.Minute))
	if g.overlaps.Load() != 0 {
		t.Fatal("runs overlapped")
	}
}

func TestInitialDelay(t *testing.T) {
	h := leaderjobtest.New(t)
	noErr(t, h.App.Schedule("rate", leaderjob.FixedRate(time.Minute).WithInitialDelay(10*time.Minute), nop))
	noErr(t, h.App.Schedule("cleanup", leaderjob.FixedDelayString("PT30S").WithInitialDelayString("PT10S"), nop))
	h.Start()

	h.Advance(10 * time.Second)
	scheduled(t, h.Await("cleanup"), t0.Add(10*time.Second))
	h.Advance(30 * time.Second)
	scheduled(t, h.Await("cleanup"), t0.Add(40*time.Second))

	// Had "rate" run before its delay, Await would return that run first.
	h.Advance(10*time.Minute - 40*time.Second)
	scheduled(t, h.Await("rate"), t0.Add(10*time.Minute))
	h.Advance(time.Minute)
	scheduled(t, h.Await("rate"), t0.Add(11*time.Minute))
}

func TestOnceRunsOnce(t *testing.T) {
	h := leaderjobtest.New(t)
	var atStart, delayed atomic.Int32
	noErr(t, h.App.Schedule("at-start", leaderjob.Once(), func(context.Context) error { atStart.Add(1); return nil }))
	noErr(t, h.App.Schedule("delayed", leaderjob.Once().WithInitialDelay(5*time.Minute), func(context.Context) error { delayed.Add(1); return nil }))
	noErr(t, h.App.Schedule("tick", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))
	h.Start()

	scheduled(t, h.Await("at-start"), t0)
	h.Advance(5 * time.Minute)
	scheduled(t, h.Await("delayed"), t0.Add(5*time.Minute))
	for i := 1; i <= 3; i++ {
		h.Advance(time.Hour)
		h.Await("tick")
	}
	if atStart.Load() != 1 || delayed.Load() != 1 {
		t.Fatalf("once jobs ran %d and %d times, want 1 each", atStart.Load(), delayed.Load())
	}
	for _, r := range h.Results() {
		if r.Job != "tick" && r.Outcome != guard.Ran {
			t.Fatalf("unexpected result %+v", r)
		}
	}
	if n := len(h.Results()); n != 5 {
		t.Fatalf("%d results, want 5 (two once jobs, three ticks)", n)
	}
}

func TestCronFiresDailyInItsZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	noErr(t, err)
	start := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC) // summer: Berlin is UTC+2
	h := leaderjobtest.New(t, leaderjobtest.WithStartTime(start))
	noErr(t, h.App.Schedule("nightly", leaderjob.Cron("0 0 2 * * *").InZone("Europe/Berlin"), nop))
	noErr(t, h.App.Schedule("weekdays", leaderjob.Cron("0 30 9 * * MON-FRI").InZone(berlin.String()), nop))
	h.Start()

	h.Advance(12 * time.Hour) // 2026-07-02 00:00 UTC = 02:00 in Berlin
	r := h.Await("nightly")
	scheduled(t, r, time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC))
	if l := r.ScheduledAt.In(berlin); l.Hour() != 2 || l.Minute() != 0 {
		t.Fatalf("fired at %v in Berlin, want 02:00", l)
	}
	h.Advance(7*time.Hour + 30*time.Minute) // Thursday 09:30 in Berlin
	scheduled(t, h.Await("weekdays"), time.Date(2026, 7, 2, 7, 30, 0, 0, time.UTC))
	h.Advance(16*time.Hour + 30*time.Minute)
	scheduled(t, h.Await("nightly"), time.Date(2026, 7, 3, 0, 0, 0, 0, time.UTC))
	h.Advance(7*time.Hour + 30*time.Minute) // Friday
	scheduled(t, h.Await("weekdays"), time.Date(2026, 7, 3, 7, 30, 0, 0, time.UTC))
	// Saturday and Sunday: no 09:30 run; Monday: the next one.
	h.Advance(16*time.Hour + 30*time.Minute)
	scheduled(t, h.Await("nightly"), time.Date(2026, 7, 4, 0, 0, 0, 0, time.UTC))
	h.Advance(24 * time.Hour)
	scheduled(t, h.Await("nightly"), time.Date(2026, 7, 5, 0, 0, 0, 0, time.UTC))
	h.Advance(24 * time.Hour)
	scheduled(t, h.Await("nightly"), time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC))
	h.Advance(7*time.Hour + 30*time.Minute)
	scheduled(t, h.Await("weekdays"), time.Date(2026, 7, 6, 7, 30, 0, 0, time.UTC))
}

func TestDisabledJobsNeverRun(t *testing.T) {
	sink := &logSink{}
	h := leaderjobtest.New(t, leaderjobtest.WithAppOptions(leaderjob.WithLogger(sink.logger())))
	noErr(t, h.App.Schedule("off-cron", leaderjob.Cron(leaderjob.Disabled), nop))
	noErr(t, h.App.Schedule("off-rate", leaderjob.FixedRateString(leaderjob.Disabled), nop))
	noErr(t, h.App.Schedule("tick", leaderjob.FixedRate(time.Hour), nop))
	h.Start()
	h.Await("tick")
	for range 3 {
		h.Advance(time.Hour)
		h.Await("tick")
	}
	for _, r := range h.Results() {
		if r.Job != "tick" {
			t.Fatalf("a disabled job ran: %+v", r)
		}
	}
	noErr(t, h.Stop()) // the start-up summary is surely written by now
	disabled := sink.withMsg(t, "job disabled")
	if len(disabled) != 2 || disabled[0].str("job") != "off-cron" || disabled[1].str("job") != "off-rate" {
		t.Fatalf("job disabled records: %v, want one per disabled job", disabled)
	}
}

func TestEveryReplicaRunsOnFollowers(t *testing.T) {
	h := leaderjobtest.New(t, leaderjobtest.WithGuard(guardtest.Follower("pod-b")))
	var ran atomic.Int32
	noErr(t, h.App.Schedule("local-cache", leaderjob.FixedRate(time.Minute), func(ctx context.Context) error {
		ran.Add(1)
		return nil
	}, leaderjob.EveryReplica()))
	noErr(t, h.App.Schedule("billing", leaderjob.FixedRate(time.Minute), nop))

	r := h.Trigger("local-cache")
	if r.Outcome != guard.Ran || ran.Load() != 1 {
		t.Fatalf("every-replica job on a follower: %s (%v)", r.Outcome, r.Err)
	}
	if !r.Decision.Leader || r.Decision.Detail != "every replica" || r.Decision.Holder != leaderjobtest.Identity {
		t.Fatalf("every-replica decision %+v", r.Decision)
	}
	if n := len(h.Guard.Checks()); n != 0 {
		t.Fatalf("the every-replica job asked the App's guard %d times", n)
	}
	if r := h.Trigger("billing"); r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader {
		t.Fatalf("guarded job on a follower: %s/%s", r.Outcome, r.Reason)
	}

	// Under the Never guard, too.
	app, _ := newApp(t, leaderjob.WithGuard(guard.Never))
	noErr(t, app.Schedule("local-cache", leaderjob.FixedRate(time.Minute), nop, leaderjob.EveryReplica()))
	if r, _ := app.Trigger(context.Background(), "local-cache"); r.Outcome != guard.Ran {
		t.Fatalf("every-replica job under Never: %s (%v)", r.Outcome, r.Err)
	}
}

func TestJobGuardOverridesTheAppGuard(t *testing.T) {
	h := leaderjobtest.New(t, leaderjobtest.WithGuard(guardtest.Follower("pod-b")))
	own := guardtest.Follower("pod-c")
	noErr(t, h.App.Schedule("always", leaderjob.FixedRate(time.Minute), nop, leaderjob.WithJobGuard(guard.Always)))
	noErr(t, h.App.Schedule("own", leaderjob.FixedRate(time.Minute), nop, leaderjob.WithJobGuard(own)))

	if r := h.Trigger("always"); r.Outcome != guard.Ran || r.Decision.Holder != leaderjobtest.Identity {
		t.Fatalf("job guard Always under a follower App: %s holder %q", r.Outcome, r.Decision.Holder)
	}
	r := h.Trigger("own")
	if r.Outcome != guard.Skipped || r.Decision.Holder != "pod-c" {
		t.Fatalf("job with its own guard: %s holder %q, want skipped naming pod-c", r.Outcome, r.Decision.Holder)
	}
	if len(h.Guard.Checks()) != 0 || len(own.Checks()) != 1 {
		t.Fatalf("App guard asked %d times, job guard %d; want 0 and 1", len(h.Guard.Checks()), len(own.Checks()))
	}
	own.SetLeader()
	if r := h.Trigger("own"); r.Outcome != guard.Ran || r.Decision.Epoch != 1 {
		t.Fatalf("job guard leading: %s epoch %d", r.Outcome, r.Decision.Epoch)
	}
}

func TestWithTimeoutCancelsTheRun(t *testing.T) {
	app, _ := newApp(t)
	noErr(t, app.Schedule("bounded", leaderjob.FixedRate(time.Hour), func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline on the run context")
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(bound):
			return errors.New("the timeout did not cancel the run")
		}
	}, leaderjob.WithTimeout(10*time.Millisecond)))
	r, err := app.Trigger(context.Background(), "bounded")
	noErr(t, err)
	if r.Outcome != guard.Failed || !errors.Is(r.Err, leaderjob.ErrRunTimeout) {
		t.Fatalf("%s (%v), want failed with ErrRunTimeout", r.Outcome, r.Err)
	}
}

// The harness example of the package documentation, as a test.
func TestHarnessFlow(t *testing.T) {
	h := leaderjobtest.New(t)
	noErr(t, h.App.Schedule("report", leaderjob.FixedRate(time.Minute).WithInitialDelay(time.Minute), nop))
	if r := h.Trigger("report"); r.Outcome != guard.Ran {
		t.Fatalf("as leader: %s", r.Outcome)
	}
	h.Guard.SetFollower("pod-b")
	if r := h.Trigger("report"); r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader {
		t.Fatalf("as follower: %s/%s", r.Outcome, r.Reason)
	}
	h.Guard.SetLeader()
	h.Start()
	h.Advance(time.Minute)
	r := h.Await("report") // triggered results are not returned again
	scheduled(t, r, t0.Add(time.Minute))
	if r.Outcome != guard.Ran || r.Decision.Epoch != 2 {
		t.Fatalf("scheduled run: %s epoch %d, want ran in the second term", r.Outcome, r.Decision.Epoch)
	}
	noErr(t, h.Stop())
	if !h.Guard.Started() || !h.Guard.Released() {
		t.Fatalf("guard started %v, released %v; want both", h.Guard.Started(), h.Guard.Released())
	}
}
