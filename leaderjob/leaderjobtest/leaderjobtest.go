// Package leaderjobtest runs a leaderjob App in tests: against a fake guard
// and a fake clock, with synchronous triggers and schedules driven by
// advancing time instead of sleeping.
//
//	h := leaderjobtest.New(t)
//	if err := myjobs.Register(h.App); err != nil { t.Fatal(err) }
//	r := h.Trigger("report")            // runs now, as the leader
//	h.Guard.SetFollower("pod-b")
//	r = h.Trigger("report")             // skipped, reason not_leader
//	h.Start()                           // the scheduler, on the fake clock
//	h.Advance(time.Minute)              // every fire due in the minute has run
//	r = h.Await("report")               // the run that fire caused
//
// Advance moves the fake clock as real time would pass: it stops at each
// fire due in the interval, in order, lets the run complete and the
// scheduler plan the next fire, and returns when every fire due by the new
// time has run exactly once. Start runs the start-up fires (fixed-rate,
// fixed-delay and one-shot jobs without an initial delay) the same way. A
// job that blocks on purpose (to test overlapping fires) is declared with
// Hold. Move the clock with Advance, not with Clock.Advance, once the App
// runs: a jump of the fake clock over several fires is not what production
// sees.
package leaderjobtest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/internal/hooks"
)

// Identity is the replica identity of a Harness's App and fake guard.
const Identity = guardtest.DefaultSelf

// WaitTimeout bounds how long Await, Advance and Stop wait, in real time.
var WaitTimeout = 10 * time.Second

// Harness is an App wired to a fake guard and a fake clock.
type Harness struct {
	App   *leaderjob.App
	Guard *guardtest.Guard
	Clock *clockwork.FakeClock

	t       testing.TB
	clock   *trackingClock
	sched   hooks.SchedulerState
	mu      sync.Mutex
	cond    *sync.Cond
	results []leaderjob.Result
	awaited map[string]int // per job: how many results Await has returned
	runErr  chan error
	stop    func() error
	// immediate counts the fires the scheduler made at start.
	immediate uint64
	held      map[string]bool // jobs whose runs Start and Advance need not wait for
}

// Option configures New.
type Option func(*config)

type config struct {
	guard     *guardtest.Guard
	start     time.Time
	appOpts   []leaderjob.Option
	elsewhere []string
}

// Elsewhere is the replica that owns the jobs OwnedElsewhere names.
const Elsewhere = "elsewhere"

// OwnedElsewhere runs the App in spread mode (leaderjob.WithSpread) and has
// the replica Elsewhere own the named jobs, so that a test sees what a
// replica does with a job it does not own: its fires are skipped with
// leaderjob.ReasonNotOwner, Trigger included. The other jobs are owned
// here. Fires of owned jobs are claimed in the App's ledger, as in spread
// mode.
func OwnedElsewhere(jobs ...string) Option {
	return func(c *config) { c.elsewhere = append(c.elsewhere, jobs...) }
}

// WithGuard uses g instead of a fake that leads from the start.
func WithGuard(g *guardtest.Guard) Option { return func(c *config) { c.guard = g } }

// WithStartTime sets the fake clock's initial time (default 2026-01-05
// 00:00:00 UTC, a Monday).
func WithStartTime(t time.Time) Option { return func(c *config) { c.start = t } }

// WithAppOptions passes extra options to leaderjob.New.
func WithAppOptions(opts ...leaderjob.Option) Option {
	return func(c *config) { c.appOpts = append(c.appOpts, opts...) }
}

// New returns a Harness whose App is named after the test. The App reads no
// environment variables and logs through t.
func New(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	c := config{start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)}
	for _, o := range opts {
		o(&c)
	}
	if c.guard == nil {
		c.guard = guardtest.Leader()
	}
	h := &Harness{Guard: c.guard, Clock: clockwork.NewFakeClockAt(c.start), t: t, awaited: map[string]int{}}
	h.cond = sync.NewCond(&h.mu)
	h.clock = newTrackingClock(h.Clock, h.wake)
	appOpts := append([]leaderjob.Option{
		leaderjob.WithGuard(c.guard),
		leaderjob.WithClock(h.clock),
		leaderjob.WithEnv(func(string) (string, bool) { return "", false }),
		leaderjob.WithIdentity(Identity),
		leaderjob.WithoutSignals(),
		leaderjob.WithHTTPAddr(""),
		leaderjob.WithLogger(Logger(t)),
		leaderjob.WithResultHook(h.record),
		leaderjob.WithStartupGrace(0), // the fake guard answers at once
	}, c.appOpts...)
	if c.elsewhere != nil {
		appOpts = append(appOpts, leaderjob.WithSpread(true), leaderjob.WithMembership(fleet{}))
	}
	app, err := leaderjob.New(t.Name(), appOpts...)
	if err != nil {
		t.Fatalf("leaderjobtest: %v", err)
	}
	if c.elsewhere != nil {
		owners := map[string]string{}
		for _, j := range c.elsewhere {
			owners[j] = Elsewhere
		}
		hooks.Pin(app, owners)
	}
	h.App = app
	h.sched = hooks.Scheduler(app)
	h.sched.OnChange(h.wake)
	return h
}

// wake tells waiters in settle that the scheduler's state changed.
func (h *Harness) wake() {
	h.mu.Lock()
	h.cond.Broadcast()
	h.mu.Unlock()
}

// Logger returns a debug-level text logger that writes to t's output while
// the test runs and drops what comes after (the scheduler's goroutines may
// log a last line once Run has returned).
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter writes to the test's output until the test ends, then drops
// writes: the scheduler's goroutines may log a last line after Run returned,
// and testing panics on output after completion.
func testWriter(t testing.TB) io.Writer {
	o, ok := t.(interface{ Output() io.Writer })
	if !ok {
		return io.Discard
	}
	w := &closingWriter{w: o.Output()}
	t.Cleanup(w.close)
	return w
}

type closingWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (c *closingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return len(p), nil
	}
	return c.w.Write(p)
}

func (c *closingWriter) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
}

func (h *Harness) record(r leaderjob.Result) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.results = append(h.results, r)
	h.cond.Broadcast()
}

// Trigger runs the named job now and returns its Result; it fails the test
// if there is no such job.
func (h *Harness) Trigger(job string) leaderjob.Result {
	h.t.Helper()
	r, err := h.App.Trigger(context.Background(), job)
	if err != nil {
		h.t.Fatalf("leaderjobtest: %v", err)
	}
	h.mu.Lock()
	h.awaited[job]++ // a triggered result is not one Await should return
	h.mu.Unlock()
	return r
}

// Start runs the App (its scheduler on the fake clock) until the test ends
// or Stop is called. It returns once the start-up fires (fixed-rate,
// fixed-delay and one-shot jobs without an initial delay fire at start, as
// in production) have completed and the scheduler waits for the next fire.
func (h *Harness) Start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.runErr = make(chan error, 1)
	go func() { h.runErr <- h.App.Run(ctx) }()
	stopped := false
	h.t.Cleanup(func() {
		if stopped {
			return
		}
		cancel()
		select {
		case <-h.runErr:
		case <-time.After(WaitTimeout):
			h.t.Errorf("leaderjobtest: the App did not stop within %v after the test: a job is still running", WaitTimeout)
		}
	})
	h.stop = func() error { stopped = true; cancel(); return <-h.runErr }
	select {
	case <-h.App.Running():
	case err := <-h.runErr:
		h.runErr <- err
		h.t.Fatalf("leaderjobtest: the App stopped at start: %v", err)
	case <-time.After(WaitTimeout):
		h.t.Fatalf("leaderjobtest: the App did not start within %v", WaitTimeout)
	}
	h.immediate = uint64(h.sched.ImmediateFires())
	h.settle()
}

// Stop ends Run as a shutdown signal would and returns Run's error.
func (h *Harness) Stop() error {
	h.t.Helper()
	if h.stop == nil {
		h.t.Fatal("leaderjobtest: Stop before Start")
	}
	select {
	case err := <-h.wrapStop():
		return err
	case <-time.After(WaitTimeout):
		h.t.Fatalf("leaderjobtest: App did not stop within %v", WaitTimeout)
		return nil
	}
}

func (h *Harness) wrapStop() <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- h.stop() }()
	return ch
}

// Advance moves the fake clock forward by d as real time would pass: it
// stops at every fire due in (now, now+d], in order, lets each run to
// completion (and the scheduler plan the next fire), and only then moves
// on. When it returns, every fire due by the new time has run exactly once
// and no run is going on. Before Start it only moves the clock.
//
// It takes real time in proportion to the number of fires: about a
// thousand per second on a laptop.
func (h *Harness) Advance(d time.Duration) {
	h.t.Helper()
	if h.stop == nil {
		h.Clock.Advance(d)
		return
	}
	target := h.Clock.Now().Add(d)
	for {
		h.settle()
		now := h.Clock.Now()
		_, next, _, _ := h.clock.state()
		if next.IsZero() || next.After(target) {
			break
		}
		h.Clock.Advance(next.Sub(now))
	}
	if now := h.Clock.Now(); target.After(now) {
		h.Clock.Advance(target.Sub(now))
	}
	h.settle()
}

// settle waits until the scheduler is idle: every timer callback has handed
// its fire to the scheduler, every fire has run to completion, no job is
// being moved onto the fleet's rhythm, each job has its next timer set, and
// the scheduler has done its bookkeeping.
func (h *Harness) settle() {
	h.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	wakeUp := time.AfterFunc(WaitTimeout, h.wake)
	defer wakeUp.Stop()
	h.mu.Lock()
	for {
		pending, _, running, fired := h.clock.state()
		started, finished := h.sched.Fires()
		want := h.immediate + fired
		idle := h.sched.IdleTimers(h.firedLocked)
		if running == 0 && started == want && started-finished == h.heldLocked() && pending >= idle && !h.sched.Busy() {
			break
		}
		if time.Now().After(deadline) {
			h.mu.Unlock()
			h.t.Fatalf("leaderjobtest: the scheduler did not settle within %v: %d of %d fires begun, %d returned, %d of %d timers set, %d timer callbacks running",
				WaitTimeout, started, want, finished, pending, idle, running)
			return
		}
		h.cond.Wait()
	}
	h.mu.Unlock()
	h.sched.Barrier()
}

// Hold lets runs of job stay in progress across Start and Advance, for
// tests of runs that take a while: the job's function blocks on a signal
// from the test (a channel, say) instead of returning at once. Start and
// Advance still wait until such a run has begun its function; fires that
// come while it is going are skipped with reason already_running, as in
// production.
func (h *Harness) Hold(job string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = map[string]bool{}
	}
	h.held[job] = true
}

// heldLocked counts the held jobs whose function is executing.
func (h *Harness) heldLocked() uint64 {
	var n uint64
	for job := range h.held {
		if h.sched.Calling(job) {
			n++
		}
	}
	return n
}

func (h *Harness) firedLocked(job string) bool {
	for _, r := range h.results {
		if r.Job == job {
			return true
		}
	}
	return false
}

// Await returns the next Result of job that neither Await nor Trigger has
// returned yet, waiting for it up to WaitTimeout (real time).
func (h *Harness) Await(job string) leaderjob.Result {
	h.t.Helper()
	start := time.Now() // before the timer, so that its wake-up finds WaitTimeout passed
	deadline := time.AfterFunc(WaitTimeout, func() {
		h.mu.Lock()
		h.cond.Broadcast()
		h.mu.Unlock()
	})
	defer deadline.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		seen := 0
		for _, r := range h.results {
			if r.Job != job {
				continue
			}
			if seen == h.awaited[job] {
				h.awaited[job]++
				return r
			}
			seen++
		}
		if time.Since(start) >= WaitTimeout {
			h.t.Fatalf("leaderjobtest: no run of %q within %v", job, WaitTimeout)
		}
		h.cond.Wait()
	}
}

// Results returns every Result so far, in the order the runs finished.
func (h *Harness) Results() []leaderjob.Result {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]leaderjob.Result(nil), h.results...)
}

// fleet is the membership of OwnedElsewhere: this replica and Elsewhere,
// for good.
type fleet struct{}

func (fleet) Members() ([]guard.Member, bool) {
	return []guard.Member{{Name: Elsewhere, Fresh: true}, {Name: Identity, Fresh: true}}, true
}

func (fleet) Changed() <-chan struct{} { return nil }
