package leaderjob_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// orderGuard is a leading fake guard that records when it is released, in
// one list with the events of the test's jobs.
type orderGuard struct {
	*guardtest.Guard
	mu     sync.Mutex
	events []string
}

func newOrderGuard() *orderGuard {
	return &orderGuard{Guard: guardtest.Leader(guardtest.WithSelf("pod-a"))}
}

func (g *orderGuard) event(e string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, e)
}

func (g *orderGuard) Events() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.events)
}

func (g *orderGuard) Release(ctx context.Context) error {
	g.event("guard released")
	return g.Guard.Release(ctx)
}

func TestRunStartsAndStops(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	app, sink := newApp(t, leaderjob.WithGuard(g))
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))
	stop := startApp(t, app)
	if !g.Started() {
		t.Fatal("Run did not start the guard")
	}
	if g.Released() {
		t.Fatal("the guard was released while running")
	}
	if err := app.Run(context.Background()); !errors.Is(err, leaderjob.ErrAlreadyRun) {
		t.Fatalf("a second Run while running = %v, want ErrAlreadyRun", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if !g.Released() {
		t.Fatal("the guard was not released at shutdown")
	}
	if err := app.Run(context.Background()); !errors.Is(err, leaderjob.ErrAlreadyRun) {
		t.Fatalf("Run after it stopped = %v, want ErrAlreadyRun", err)
	}
	for _, msg := range []string{"started", "job scheduled", "shutting down", "stopped"} {
		if n := len(sink.withMsg(t, msg)); n != 1 {
			t.Errorf("%d %q records, want 1", n, msg)
		}
	}
}

func TestShutdownCancelsRunningJobsAndReleasesAfterThem(t *testing.T) {
	g := newOrderGuard()
	app, sink := newApp(t, leaderjob.WithGuard(g))
	started, finish := make(chan struct{}), make(chan struct{})
	cause := make(chan error, 1)
	noErr(t, app.Schedule("work", leaderjob.Once(), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		cause <- context.Cause(ctx)
		<-finish // keep draining until the test has looked
		g.event("job returned")
		return context.Cause(ctx)
	}))
	stop := startApp(t, app)
	recv(t, started, "the job to start")

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if c := recv(t, cause, "the job's context to end"); c != guard.ErrShuttingDown {
		t.Fatalf("job context cause = %v, want guard.ErrShuttingDown", c)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a job was still running", err)
	default:
	}
	if g.Released() {
		t.Fatal("the guard was released while a job was still running")
	}
	close(finish)
	if err := recv(t, stopped, "Run to return"); err != nil {
		t.Fatalf("Run = %v, want nil after a clean drain", err)
	}
	if ev := g.Events(); !slices.Equal(ev, []string{"job returned", "guard released"}) {
		t.Fatalf("events %v, want the job to return before the guard is released", ev)
	}
	recs := sink.runs(t, "work")
	if len(recs) != 1 || recs[0].str("outcome") != "canceled" || recs[0].str("level") != "WARN" || !strings.Contains(recs[0].str("error"), "shutting down") {
		t.Fatalf("run records %v, want one canceled run at WARN, cut short by the shutdown", recs)
	}
}

func TestDrainTimeoutKeepsLeadership(t *testing.T) {
	g := newOrderGuard()
	done := make(chan leaderjob.Result, 1)
	app, sink := newApp(t, leaderjob.WithGuard(g), leaderjob.WithDrainTimeout(20*time.Millisecond),
		leaderjob.WithResultHook(func(r leaderjob.Result) { done <- r }))
	started, release := make(chan struct{}), make(chan struct{})
	noErr(t, app.Schedule("stubborn", leaderjob.Once(), func(ctx context.Context) error {
		close(started)
		<-release // ignores its context
		return nil
	}))
	stop := startApp(t, app)
	recv(t, started, "the job to start")

	err := stop()
	close(release)
	if !errors.Is(err, leaderjob.ErrDrainTimeout) || !strings.Contains(err.Error(), "stubborn") {
		t.Fatalf("Run = %v, want ErrDrainTimeout naming the job", err)
	}
	if g.Released() || len(g.Events()) != 0 {
		t.Fatal("the guard was released although a job was still running")
	}
	if recs := sink.withMsg(t, "stopped with errors"); len(recs) != 1 || recs[0].str("level") != "ERROR" {
		t.Fatalf("stop records %v, want one ERROR", recs)
	}
	recv(t, done, "the stubborn job to finish")
}

func TestFiresDuringDrainAreSkipped(t *testing.T) {
	sink := &logSink{}
	h := leaderjobtest.New(t, leaderjobtest.WithAppOptions(
		leaderjob.WithLogger(sink.logger()), leaderjob.WithDrainTimeout(time.Hour)))
	started, sawCancel, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	noErr(t, h.App.Schedule("stubborn", leaderjob.Once(), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(sawCancel)
		<-release
		return nil
	}))
	noErr(t, h.App.Schedule("other", leaderjob.FixedRate(time.Minute).WithInitialDelay(time.Minute), nop))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- h.App.Run(ctx) }()
	recv(t, started, "the stubborn job to start")
	cancel()
	recv(t, sawCancel, "the shutdown to cancel the stubborn job")

	h.Advance(time.Minute) // "other" falls due while the App drains
	r := h.Await("other")
	if r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonShuttingDown || !errors.Is(r.Err, guard.ErrSkipped) {
		t.Fatalf("fire during drain: %s/%s (%v), want skipped/shutting_down", r.Outcome, r.Reason, r.Err)
	}
	r, err := h.App.Trigger(context.Background(), "other")
	noErr(t, err)
	if r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonShuttingDown {
		t.Fatalf("trigger during drain: %s/%s, want skipped/shutting_down", r.Outcome, r.Reason)
	}
	close(release)
	noErr(t, recv(t, stopped, "Run to return"))
	recs := sink.runs(t, "other")
	if len(recs) != 2 || recs[0].str("reason") != "shutting_down" || recs[1].str("reason") != "shutting_down" {
		t.Fatalf("records %v, want two shutting_down skips", recs)
	}
	if !h.Guard.Released() {
		t.Fatal("the guard was not released after the drain")
	}
}

type failingStarter struct{ guard.Guard }

func (failingStarter) Start(context.Context) error { return errors.New("no kubeconfig") }

func TestRunReportsGuardStartFailure(t *testing.T) {
	app, _ := newApp(t, leaderjob.WithGuard(failingStarter{guard.Always}))
	err := app.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no kubeconfig") || !strings.Contains(err.Error(), "starting guard") {
		t.Fatalf("Run = %v, want the guard's start error", err)
	}
}

func TestTriggerUnknownJob(t *testing.T) {
	app, _ := newApp(t)
	_, err := app.Trigger(context.Background(), "nope")
	if !errors.Is(err, leaderjob.ErrUnknownJob) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Trigger of an unknown job = %v, want ErrUnknownJob naming it", err)
	}
}

func TestTriggerHonoursItsContext(t *testing.T) {
	app, _ := newApp(t)
	started := make(chan struct{})
	noErr(t, app.Schedule("wait", leaderjob.FixedRate(time.Hour), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	}))
	stopping := errors.New("request aborted")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { <-started; cancel(stopping) }()
	r, err := app.Trigger(ctx, "wait")
	noErr(t, err)
	if r.Outcome != guard.Failed || !errors.Is(r.Err, stopping) {
		t.Fatalf("%s (%v), want failed with the caller's cause", r.Outcome, r.Err)
	}
	r, _ = app.Trigger(ctx, "wait") // already ended: not even asked
	if r.Outcome != guard.Skipped || r.Reason != guard.ReasonCanceled {
		t.Fatalf("with an ended context: %s/%s, want skipped/canceled", r.Outcome, r.Reason)
	}
}

func TestLosingLeadershipCancelsATriggeredRun(t *testing.T) {
	h := leaderjobtest.New(t)
	started := make(chan struct{})
	noErr(t, h.App.Schedule("long", leaderjob.FixedRate(time.Hour), func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return context.Cause(ctx)
	}))
	go func() { <-started; h.Guard.SetFollower("pod-b") }()
	r := h.Trigger("long")
	if r.Outcome != guard.Canceled || !errors.Is(r.Err, guard.ErrLeadershipLost) {
		t.Fatalf("%s (%v), want canceled with ErrLeadershipLost", r.Outcome, r.Err)
	}
}

func TestRunInfoInTheJob(t *testing.T) {
	if _, ok := leaderjob.RunInfoFrom(context.Background()); ok {
		t.Fatal("RunInfoFrom outside a run reports ok")
	}
	if leaderjob.JobName(context.Background()) != "" {
		t.Fatal("JobName outside a run is not empty")
	}
	if _, ok := leaderjob.Epoch(context.Background()); ok {
		t.Fatal("Epoch outside a run reports ok")
	}

	h := leaderjobtest.New(t)
	h.Guard.LoseLeadership()
	h.Guard.SetLeader() // epoch 2
	type seen struct {
		info   leaderjob.RunInfo
		ok     bool
		name   string
		epoch  int64
		fenced bool
	}
	got := make(chan seen, 4)
	job := func(ctx context.Context) error {
		var s seen
		s.info, s.ok = leaderjob.RunInfoFrom(ctx)
		s.name = leaderjob.JobName(ctx)
		s.epoch, s.fenced = leaderjob.Epoch(ctx)
		got <- s
		return nil
	}
	noErr(t, h.App.Schedule("report", leaderjob.FixedRate(time.Minute).WithInitialDelay(time.Minute), job))
	noErr(t, h.App.Schedule("unfenced", leaderjob.FixedRate(time.Minute), job, leaderjob.WithJobGuard(guard.Always)))

	r := h.Trigger("report")
	s := recv(t, got, "the run")
	if !s.ok || s.info.Job != "report" || s.name != "report" || s.info.RunID != r.RunID {
		t.Fatalf("RunInfo %+v (ok %v), JobName %q; want job report with run id %s", s.info, s.ok, s.name, r.RunID)
	}
	if !s.info.ScheduledAt.Equal(t0) {
		t.Fatalf("ScheduledAt of a trigger = %v, want the clock's now %v", s.info.ScheduledAt, t0)
	}
	if !s.fenced || s.epoch != 2 || s.info.Decision.Epoch != 2 || s.info.Decision.Holder != leaderjobtest.Identity || !s.info.Decision.Leader {
		t.Fatalf("epoch %d (ok %v), decision %+v; want epoch 2 held by %s", s.epoch, s.fenced, s.info.Decision, leaderjobtest.Identity)
	}

	h.Trigger("unfenced")
	if s := recv(t, got, "the unfenced run"); s.fenced || s.name != "unfenced" || s.info.Decision.Holder != leaderjobtest.Identity {
		t.Fatalf("under Always: epoch ok %v, name %q, holder %q; want no epoch and this replica as holder", s.fenced, s.name, s.info.Decision.Holder)
	}

	h.Start()
	recv(t, got, "the unfenced job's run at start")
	h.Await("unfenced") // and its end: a fire while it runs would be skipped
	h.Advance(time.Minute)
	for range 2 {
		s := recv(t, got, "a scheduled run")
		if !s.info.ScheduledAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("%s: ScheduledAt %v, want t0+1m", s.name, s.info.ScheduledAt)
		}
	}
}
