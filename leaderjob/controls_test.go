package leaderjob_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// fakeControls are operators' requests set by the test.
type fakeControls struct {
	mu      sync.Mutex
	c       leaderjob.Control
	changes chan struct{}
	gen     int // bumped by set
	readGen int // the gen the last Current returned
	reads   int // calls of Current
}

func newFakeControls() *fakeControls {
	return &fakeControls{changes: make(chan struct{}, 1)}
}

func (f *fakeControls) Current(context.Context) (leaderjob.Control, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	f.readGen = f.gen
	out := leaderjob.Control{Paused: map[string]leaderjob.PauseRequest{}, Runs: map[string]leaderjob.RunRequest{}}
	for k, v := range f.c.Paused {
		out.Paused[k] = v
	}
	for k, v := range f.c.Runs {
		out.Runs[k] = v
	}
	return out, nil
}

func (f *fakeControls) Changes() <-chan struct{} { return f.changes }

func (f *fakeControls) set(fn func(c *leaderjob.Control)) {
	f.mu.Lock()
	if f.c.Paused == nil {
		f.c.Paused, f.c.Runs = map[string]leaderjob.PauseRequest{}, map[string]leaderjob.RunRequest{}
	}
	fn(&f.c)
	f.gen++
	f.mu.Unlock()
	f.poke()
}

func (f *fakeControls) poke() {
	select {
	case f.changes <- struct{}{}:
	default:
	}
}

// settled returns once the control loop has acted on everything set so
// far: it has read the latest controls, and then read them once more
// after a poke, which it does only when done with the previous read. So a
// test can tell that something did not happen, without sleeping. (Only the
// control loop may read the controls meanwhile: no fire may be due.)
func (f *fakeControls) settled(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	gen := f.gen
	f.mu.Unlock()
	reads := 0
	testutil.Eventually(t, bound, "the control loop reads the latest controls", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		reads = f.reads
		return f.readGen == gen
	})
	f.poke()
	testutil.Eventually(t, bound, "the control loop reads the controls again", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.reads > reads
	})
}

// eventually polls the ledger (in real time: the control loop is not on
// the fake clock) until ok holds.
func eventually(t *testing.T, l ledger.Ledger, what string, ok func(s ledger.State) bool) ledger.State {
	t.Helper()
	var s ledger.State
	testutil.EventuallyNoError(t, 5*time.Second, what, func() error {
		var err error
		if s, err = l.Snapshot(context.Background()); err == nil && !ok(s) {
			err = fmt.Errorf("ledger: %+v", s)
		}
		return err
	})
	return s
}

// A paused job's fires are skipped with reason paused, claimed so that
// they count as handled (no catch-up runs them after the resume), and the
// leader acknowledges the pause in the ledger; after the resume the job
// runs again.
func TestPausedFiresAreSkippedAndHandled(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	ctl := newFakeControls()
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))
	var runs atomic.Int64
	count := func(context.Context) error { runs.Add(1); return nil }

	since := t0.Add(-time.Hour)
	ctl.set(func(c *leaderjob.Control) {
		c.Paused["tick"] = leaderjob.PauseRequest{By: "ops@example.com", Reason: "maintenance", Since: since}
	})
	a := replica(t, l, t0, leaderjob.WithControls(ctl))
	noErr(t, a.App.Schedule("tick", every10s, count, policy))
	a.Start()
	eventually(t, l, "pause acknowledged", func(s ledger.State) bool {
		p, ok := s.Paused["tick"]
		return ok && p.By == "ops@example.com" && p.Since.Equal(since) && p.Holder != "" && len(s.JobNames) == 1 && s.JobNames[0] == "tick"
	})
	a.Advance(30 * time.Second)
	for _, r := range a.Results() {
		if r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonPaused {
			t.Fatalf("paused fire: %s/%s %v", r.Outcome, r.Reason, r.Err)
		}
	}
	if n := len(a.Results()); n != 3 || runs.Load() != 0 {
		t.Fatalf("%d results, %d runs; want 3 paused fires, no run", n, runs.Load())
	}
	s, _ := l.Snapshot(context.Background())
	if js := s.Jobs["tick"]; js == nil || !js.Handled(t0.Add(30*time.Second)) || js.Completed.Outcome != "skipped" {
		t.Fatalf("paused fires not recorded as handled: %+v", js)
	}
	status := a.App.Status(context.Background())
	if p := status.Jobs[0].Paused; p == nil || p.Reason != "maintenance" {
		t.Fatalf("/jobs does not show the pause: %+v", status.Jobs[0])
	}
	noErr(t, a.Stop())

	// Resumed: a new leader catches up nothing of the paused fires and
	// runs the next fire.
	ctl.set(func(c *leaderjob.Control) { delete(c.Paused, "tick") })
	b := replica(t, l, t0.Add(35*time.Second), leaderjob.WithControls(ctl))
	noErr(t, b.App.Schedule("tick", every10s, count, policy))
	b.Start()
	b.Advance(5 * time.Second)
	for _, r := range b.Results() {
		if r.Outcome == guard.Ran && !r.ScheduledAt.Equal(t0.Add(40*time.Second)) {
			t.Fatalf("after the resume: a paused fire ran: %+v", r)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("after the resume: %d runs; want the 40s fire only", runs.Load())
	}
	eventually(t, l, "resume acknowledged", func(s ledger.State) bool { return len(s.Paused) == 0 })
	noErr(t, b.Stop())
}

// A run request runs the job once, with a key derived from the request id
// and the request's time as its scheduled time, and is recorded as done in
// the ledger; the same request seen again (here by the next leader) does
// not run it again. A paused job refuses a request unless it is forced.
func TestRunRequestsRunOnceFleetWide(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	ctl := newFakeControls()
	var runs atomic.Int64
	var keys sync.Map
	job := func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		keys.Store(info.Key, info.ScheduledAt)
		runs.Add(1)
		return nil
	}
	daily := leaderjob.Cron("0 0 3 * * *").InZone("UTC")
	a := replica(t, l, t0, leaderjob.WithControls(ctl))
	noErr(t, a.App.Schedule("report", daily, job))
	a.Start()
	at := t0.Add(-time.Minute)
	ctl.set(func(c *leaderjob.Control) {
		c.Runs["req-1"] = leaderjob.RunRequest{Job: "report", By: "ops", At: at}
	})
	s := eventually(t, l, "run request done", func(s ledger.State) bool { return s.Runs["req-1"].Done() })
	if r := s.Runs["req-1"]; r.Outcome != "ran" || r.Job != "report" || !r.Requested.Equal(at) {
		t.Fatalf("run: %+v", r)
	}
	if v, ok := keys.Load("TestRunRequestsRunOnceFleetWide/report/run/req-1"); !ok || !v.(time.Time).Equal(at) {
		t.Fatalf("key or scheduled time of the run: %v %v", ok, v)
	}
	ctl.set(func(*leaderjob.Control) {}) // the same requests, seen again
	ctl.settled(t)
	noErr(t, a.Stop())

	b := replica(t, l, t0.Add(time.Minute), leaderjob.WithControls(ctl))
	noErr(t, b.App.Schedule("report", daily, job))
	b.Start()
	ctl.set(func(c *leaderjob.Control) {
		c.Paused["report"] = leaderjob.PauseRequest{By: "ops", Since: t0}
		c.Runs["req-2"] = leaderjob.RunRequest{Job: "report", At: t0}
		c.Runs["req-3"] = leaderjob.RunRequest{Job: "report", At: t0, Force: true}
		c.Runs["req-4"] = leaderjob.RunRequest{Job: "nope", At: t0}
	})
	s = eventually(t, l, "requests answered", func(s ledger.State) bool {
		return s.Runs["req-2"].Done() && s.Runs["req-3"].Done() && s.Runs["req-4"].Done()
	})
	if got := s.Runs["req-2"].Outcome; got != "skipped: paused" {
		t.Fatalf("paused job, not forced: %q", got)
	}
	if got := s.Runs["req-3"].Outcome; got != "ran" {
		t.Fatalf("paused job, forced: %q", got)
	}
	if got := s.Runs["req-4"].Outcome; got != "skipped: unknown_job" {
		t.Fatalf("unknown job: %q", got)
	}
	if runs.Load() != 2 {
		t.Fatalf("%d runs, want 2 (req-1 once, req-3)", runs.Load())
	}
	if st := b.App.Status(context.Background()); len(st.Jobs[0].ManualRuns) != 3 {
		t.Fatalf("/jobs manual runs: %+v", st.Jobs[0].ManualRuns)
	}
	noErr(t, b.Stop())
}

// A pause leaves a run in flight alone, unless it asks to cancel it: then
// the run's context ends with cause ErrPaused and its outcome is canceled.
func TestPauseCancelsTheRunningJobOnlyWhenAsked(t *testing.T) {
	for _, cancelRunning := range []bool{false, true} {
		ctl := newFakeControls()
		h := leaderjobtest.New(t, leaderjobtest.WithAppOptions(leaderjob.WithControls(ctl)))
		started, release := make(chan struct{}), make(chan struct{})
		noErr(t, h.App.Schedule("import", leaderjob.Cron("0 * * * * *").InZone("UTC"), func(ctx context.Context) error {
			close(started)
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-release:
				return nil
			}
		}))
		h.Hold("import")
		h.Start()
		h.Advance(time.Minute)
		<-started
		ctl.set(func(c *leaderjob.Control) {
			c.Paused["import"] = leaderjob.PauseRequest{By: "ops", Reason: "vendor outage", Since: t0, CancelRunning: cancelRunning}
		})
		if !cancelRunning {
			ctl.settled(t) // the control loop has acted on the pause
			close(release)
		}
		r := h.Await("import")
		switch {
		case cancelRunning && (r.Outcome != guard.Canceled || !errors.Is(r.Err, leaderjob.ErrPaused)):
			t.Fatalf("--cancel-running: %s (%v), want canceled with ErrPaused", r.Outcome, r.Err)
		case !cancelRunning && r.Outcome != guard.Ran:
			t.Fatalf("a plain pause: %s (%v), want the run to go on to its end", r.Outcome, r.Err)
		}
	}
}
