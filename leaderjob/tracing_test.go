package leaderjob_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/internal/tracing"
	"github.com/leaderjob/leaderjob/leaderjob/internal/tracing/spantest"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// sendReport is a job that starts a span of its own under the run's.
func sendReport(ctx context.Context) error {
	_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("billing").Start(ctx, "render pdf")
	span.End()
	return nil
}

// runSpans returns the run spans (not the jobs' own) among spans.
func runSpans(spans []spantest.Span) []spantest.Span {
	var out []spantest.Span
	for _, s := range spans {
		if strings.HasPrefix(s.Name, tracing.SpanPrefix) {
			out = append(out, s)
		}
	}
	return out
}

// A run that the guard lets through is one span, "job <name>", from the
// attempt's start (the guard's answer included) to its end; the job's own
// span is its child; its attributes name the app, job, replica, run id,
// fire, kind of fire, epoch, outcome and the job's function; a span in the
// caller's context is its parent.
func TestRunSpan(t *testing.T) {
	rec := &spantest.Recorder{}
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	app, _ := newApp(t, leaderjob.WithTracerProvider(rec), leaderjob.WithGuard(g))
	noErr(t, app.Schedule("report", leaderjob.FixedRate(time.Hour), sendReport))

	parentCtx, parent := rec.Tracer("caller").Start(context.Background(), "request")
	before := time.Now()
	res, err := app.Trigger(parentCtx, "report")
	noErr(t, err)
	parent.End()
	if res.Outcome != guard.Ran {
		t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
	}

	spans := rec.Ended()
	runs := runSpans(spans)
	if len(runs) != 1 || len(spans) != 3 {
		t.Fatalf("spans %+v; want the caller's, one run span and the job's own", spans)
	}
	run := runs[0]
	var child spantest.Span
	for _, s := range spans {
		if s.Name == "render pdf" {
			child = s
		}
	}
	if run.Name != "job report" || run.Kind != trace.SpanKindInternal || run.Scope != tracing.ScopeName {
		t.Errorf("run span %q kind %v scope %q", run.Name, run.Kind, run.Scope)
	}
	if run.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("run span's parent %v, want the caller's span %v", run.Parent.SpanID(), parent.SpanContext().SpanID())
	}
	if child.Parent.SpanID() != run.Context.SpanID() || child.Context.TraceID() != run.Context.TraceID() {
		t.Errorf("the job's span has parent %v, want the run span %v", child.Parent.SpanID(), run.Context.SpanID())
	}
	if run.Start.Before(before) || child.Start.Before(run.Start) || run.End.Before(child.End) {
		t.Errorf("run span %v..%v does not enclose the job's %v..%v", run.Start, run.End, child.Start, child.End)
	}
	want := map[attribute.Key]string{
		tracing.KeyApp: "test-app", tracing.KeyJob: "report", tracing.KeyReplica: "pod-a",
		tracing.KeyRunID: res.RunID, tracing.KeyFire: "manual", tracing.KeyOutcome: "ran",
		tracing.KeyKey: res.Key, tracing.KeyScheduledAt: res.ScheduledAt.UTC().Format(time.RFC3339Nano),
		tracing.KeyEpoch: "1", "code.function.name": "github.com/leaderjob/leaderjob/leaderjob_test.sendReport",
	}
	for k, v := range want {
		if got := run.Attr(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []attribute.Key{tracing.KeyReason, "error.type", tracing.KeyToken} {
		if _, ok := run.Attrs[k]; ok {
			t.Errorf("a successful unclaimed run has %s = %q", k, run.Attr(k))
		}
	}
	if run.Status != codes.Unset {
		t.Errorf("status %v, want Unset", run.Status)
	}
}

type codedError struct{}

func (codedError) Error() string { return "the printer is on fire" }

// A failed run's span has status Error, error.type the error's type and an
// exception event; a panicked run's, error.type panic and the stack.
func TestFailedAndPanickedRunSpans(t *testing.T) {
	rec := &spantest.Recorder{}
	app, _ := newApp(t, leaderjob.WithTracerProvider(rec))
	noErr(t, app.Schedule("fails", leaderjob.FixedRate(time.Hour), func(context.Context) error {
		return fmt.Errorf("printing: %w", codedError{})
	}))
	noErr(t, app.Schedule("wraps", leaderjob.FixedRate(time.Hour), func(context.Context) error {
		return errors.New("context: " + codedError{}.Error())
	}))
	noErr(t, app.Schedule("panics", leaderjob.FixedRate(time.Hour), func(context.Context) error { panic("boom") }))
	for _, job := range []string{"fails", "wraps", "panics"} {
		_, err := app.Trigger(context.Background(), job)
		noErr(t, err)
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for i, want := range []struct{ outcome, errType string }{
		{"failed", "github.com/leaderjob/leaderjob/leaderjob_test.codedError"},
		{"failed", "*errors.errorString"},
		{"panicked", "panic"},
	} {
		s := spans[i]
		if s.Attr(tracing.KeyOutcome) != want.outcome || s.Attr("error.type") != want.errType || s.Status != codes.Error || s.Description == "" {
			t.Errorf("%s: outcome %q error.type %q status %v %q; want %s, %s, Error", s.Name,
				s.Attr(tracing.KeyOutcome), s.Attr("error.type"), s.Status, s.Description, want.outcome, want.errType)
		}
		if len(s.Events) != 1 || s.Events[0].Name != "exception" {
			t.Errorf("%s: events %+v, want one exception", s.Name, s.Events)
			continue
		}
		stack := s.Events[0].Attrs["exception.stacktrace"].AsString()
		if (want.outcome == "panicked") != strings.Contains(stack, "goroutine") {
			t.Errorf("%s: exception.stacktrace %q", s.Name, stack)
		}
	}
}

// A standby's fires start no span at all, whatever the tracer: the guard
// turned them away before the tracer is asked. Nor do attempts after the
// App began to shut down.
func TestStandbyStartsNoSpan(t *testing.T) {
	rec := &spantest.Recorder{}
	app, _ := newApp(t, leaderjob.WithTracerProvider(rec), leaderjob.WithGuard(guardtest.Follower("pod-b")))
	noErr(t, app.Schedule("report", leaderjob.FixedRate(time.Hour), sendReport))
	for range 50 {
		res, err := app.Trigger(context.Background(), "report")
		noErr(t, err)
		if res.Reason != guard.ReasonNotLeader {
			t.Fatalf("reason %q, want not_leader", res.Reason)
		}
	}
	if n := rec.Started(); n != 0 {
		t.Errorf("a standby started %d spans", n)
	}
}

// runTraced runs an App that leads, sharing l, with the tracer rec, for d
// (in a synctest bubble), and returns its Results.
func runTraced(t *testing.T, l ledger.Ledger, rec *spantest.Recorder, reg *prometheus.Registry, g guard.Guard, d time.Duration, schedule func(*leaderjob.App)) []leaderjob.Result {
	t.Helper()
	var mu sync.Mutex
	var results []leaderjob.Result
	app, err := leaderjob.New("traced",
		leaderjob.WithGuard(g), leaderjob.WithLedger(l), leaderjob.WithEnv(noEnv), leaderjob.WithIdentity("pod-a"),
		leaderjob.WithLogger(leaderjobtest.Logger(t)), leaderjob.WithHTTPAddr(""), leaderjob.WithoutSignals(),
		leaderjob.WithTracerProvider(rec), leaderjob.WithRegistry(reg),
		leaderjob.WithResultHook(func(r leaderjob.Result) { mu.Lock(); results = append(results, r); mu.Unlock() }))
	noErr(t, err)
	schedule(app)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- app.Run(ctx) }()
	time.Sleep(d)
	cancel()
	noErr(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	return results
}

// A claimed job's spans carry the fencing token; a fire that came while
// the previous run went is a short span with skip_reason already_running;
// the fire whose run the shutdown cut short is run again by the next
// leader under a span that says catch_up and rerun, with the same key.
func TestClaimedRunSpans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ledger.NewLedger(ledger.NewMemory())
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		schedule := func(app *leaderjob.App) {
			noErr(t, app.Schedule("slow", leaderjob.Cron("* * * * * *").InZone("UTC"), func(ctx context.Context) error {
				select {
				case <-time.After(2500 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}, leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
		}
		rec := &spantest.Recorder{}
		first := runTraced(t, l, rec, prometheus.NewRegistry(), guardtest.Leader(), 2800*time.Millisecond, schedule)
		spans := map[string]spantest.Span{}
		for _, s := range rec.Ended() {
			spans[s.Attr(tracing.KeyRunID)] = s
		}
		var cut leaderjob.Result
		busy := 0
		for i, r := range first {
			s, ok := spans[r.RunID]
			if !ok {
				if r.Reason != leaderjob.ReasonShuttingDown {
					t.Errorf("no span for attempt %+v", r)
				}
				continue
			}
			if s.Attr(tracing.KeyRunID) != r.RunID || s.Attr(tracing.KeyOutcome) != string(r.Outcome) || s.Attr(tracing.KeyReason) != string(r.Reason) {
				t.Errorf("span %d: run_id %s outcome %s reason %s; the Result: %s %s %s", i, s.Attr(tracing.KeyRunID),
					s.Attr(tracing.KeyOutcome), s.Attr(tracing.KeyReason), r.RunID, r.Outcome, r.Reason)
			}
			if s.Attr(tracing.KeyToken) == "" || s.Attr(tracing.KeyFire) != "scheduled" {
				t.Errorf("span %d: fencing token %q, fire %q", i, s.Attr(tracing.KeyToken), s.Attr(tracing.KeyFire))
			}
			switch {
			case r.Reason == leaderjob.ReasonAlreadyRunning:
				busy++
				if s.End.Sub(s.Start) >= time.Second || s.Status != codes.Unset {
					t.Errorf("a busy fire's span lasts %v, status %v", s.End.Sub(s.Start), s.Status)
				}
			case r.Outcome == guard.Canceled:
				cut = r
				if s.Status != codes.Unset {
					t.Errorf("a run cut short by the shutdown has status %v", s.Status)
				}
			}
		}
		if busy == 0 || cut.Key == "" {
			t.Fatalf("attempts %+v: want busy fires and a run cut short", first)
		}

		rec = &spantest.Recorder{}
		runTraced(t, l, rec, prometheus.NewRegistry(), guardtest.Leader(), 500*time.Millisecond, schedule)
		found := false
		for _, s := range rec.Ended() {
			if s.Attr(tracing.KeyKey) == cut.Key && s.Attr(tracing.KeyFire) == "catch_up" && s.Attr(tracing.KeyRerun) == "true" {
				found = true
			}
		}
		if !found {
			t.Errorf("no catch_up span with rerun for the cut fire %s among %+v", cut.Key, rec.Ended())
		}
	})
}

// Fire lag is measured from the fire's time to the call of the job, the
// guard's answer included, by kind of fire; runs in progress count the
// job while its function runs; and the series a dashboard reads exist at
// zero from Schedule.
func TestFireLagAndRunsInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		g := guardtest.Leader()
		g.SetDelay(300 * time.Millisecond)
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)))
		var inProgress []float64
		runTraced(t, ledger.NewLedger(ledger.NewMemory()), &spantest.Recorder{}, reg, g, 2500*time.Millisecond, func(app *leaderjob.App) {
			noErr(t, app.Schedule("tick", leaderjob.Cron("* * * * * *").InZone("UTC"), func(context.Context) error {
				inProgress = append(inProgress, gauge(t, reg, "leaderjob_runs_in_progress", "tick"))
				return nil
			}))
			noErr(t, app.Schedule("idle", leaderjob.Cron("0 0 0 1 1 *").InZone("UTC"), nop))
			// Before Run: every series at zero.
			for _, name := range []string{"leaderjob_runs_in_progress", "leaderjob_catch_up_runs_total", "leaderjob_reruns_total", "leaderjob_pauses"} {
				if v := gauge(t, reg, name, "idle"); v != 0 {
					t.Errorf("%s{job_name=idle} = %v before Run", name, v)
				}
			}
			for _, fire := range []string{"scheduled", "catch_up", "manual"} {
				if n, _ := lag(t, reg, "idle", fire); n != 0 {
					t.Errorf("fire lag of idle (%s): %d before Run", fire, n)
				}
			}
		})
		n, sum := lag(t, reg, "tick", "scheduled")
		if n != 2 || sum != 0.6 {
			t.Errorf("fire lag of tick: %d observations, sum %vs; want 2 fires 300ms late each (the guard's answer)", n, sum)
		}
		if len(inProgress) != 2 || inProgress[0] != 1 || inProgress[1] != 1 {
			t.Errorf("runs in progress seen by the job: %v, want 1 each time", inProgress)
		}
		if v := gauge(t, reg, "leaderjob_runs_in_progress", "tick"); v != 0 {
			t.Errorf("runs in progress after the runs: %v", v)
		}
	})
}

// gauge is the value of the job's series of a gauge or counter, -1 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name, job string) float64 {
	t.Helper()
	for _, m := range find(t, reg, name, job) {
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	return -1
}

// lag is the count and sum of the job's fire lag for a kind of fire.
func lag(t *testing.T, reg *prometheus.Registry, job, fire string) (uint64, float64) {
	t.Helper()
	for _, m := range find(t, reg, "leaderjob_fire_lag_seconds", job) {
		for _, l := range m.Label {
			if l.GetName() == "fire" && l.GetValue() == fire {
				return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
			}
		}
	}
	t.Fatalf("no fire lag series of %s (%s)", job, fire)
	return 0, 0
}

func find(t *testing.T, reg *prometheus.Registry, name, job string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	noErr(t, err)
	var out []*dto.Metric
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "job_name" && l.GetValue() == job {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

// A job that ends its goroutine (runtime.Goexit: t.FailNow or t.SkipNow
// in a test job, or a library that calls it) still ends its run: the
// in-progress gauge goes back to 0 and its span ends.
func TestGoexitEndsTheRun(t *testing.T) {
	rec := &spantest.Recorder{}
	reg := prometheus.NewRegistry()
	app, _ := newApp(t, leaderjob.WithTracerProvider(rec), leaderjob.WithRegistry(reg))
	noErr(t, app.Schedule("exits", leaderjob.FixedRate(time.Hour), func(context.Context) error { runtime.Goexit(); return nil }))
	done := make(chan struct{})
	go func() { defer close(done); _, _ = app.Trigger(context.Background(), "exits") }()
	<-done
	if v := gauge(t, reg, "leaderjob_runs_in_progress", "exits"); v != 0 {
		t.Errorf("runs in progress after the job left by Goexit: %v, want 0", v)
	}
	if rec.Started() != 1 || len(rec.Ended()) != 1 {
		t.Errorf("spans started %d, ended %d; want 1 and 1", rec.Started(), len(rec.Ended()))
	}
}
