package leaderjobtest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

func nop(context.Context) error { return nil }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The walk-through of the package documentation. (An Example cannot get a
// *testing.T, so this is a test.)
func TestHarness(t *testing.T) {
	h := leaderjobtest.New(t)
	reports := 0
	must(t, h.App.Schedule("report", leaderjob.FixedRate(time.Minute), func(ctx context.Context) error {
		reports++
		return nil
	}))

	if r := h.Trigger("report"); r.Outcome != guard.Ran || reports != 1 {
		t.Fatalf("as leader: %s, %d reports", r.Outcome, reports)
	}
	h.Guard.SetFollower("pod-b")
	if r := h.Trigger("report"); r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader || reports != 1 {
		t.Fatalf("as follower: %s/%s, %d reports", r.Outcome, r.Reason, reports)
	}

	h.Guard.SetLeader()
	h.Start()
	first := h.Await("report") // a fixed rate runs at start
	h.Advance(time.Minute)
	second := h.Await("report")
	if first.Outcome != guard.Ran || second.Outcome != guard.Ran || !second.ScheduledAt.Equal(first.ScheduledAt.Add(time.Minute)) {
		t.Fatalf("scheduled runs: %+v then %+v, want two runs a minute apart", first, second)
	}
	must(t, h.Stop())
	if got := len(h.Results()); got != 4 {
		t.Fatalf("Results has %d entries, want 4 (two triggers, two fires)", got)
	}
	if !h.Guard.Started() || !h.Guard.Released() {
		t.Fatal("Start and Stop did not start and release the guard")
	}
}

func TestHarnessDefaultsAndOptions(t *testing.T) {
	h := leaderjobtest.New(t)
	if h.App.Name() != t.Name() || h.App.Identity() != leaderjobtest.Identity {
		t.Fatalf("app %q identity %q", h.App.Name(), h.App.Identity())
	}
	if want := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC); !h.Clock.Now().Equal(want) || h.Clock.Now().Weekday() != time.Monday {
		t.Fatalf("default start %v, want %v", h.Clock.Now(), want)
	}
	if d, err := h.Guard.Check(context.Background()); err != nil || !d.Leader {
		t.Fatalf("default guard: %+v, %v; want a leader", d, err)
	}

	start := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	g := guardtest.Follower("pod-b")
	var hooked []string
	h = leaderjobtest.New(t, leaderjobtest.WithStartTime(start), leaderjobtest.WithGuard(g),
		leaderjobtest.WithAppOptions(leaderjob.WithResultHook(func(r leaderjob.Result) { hooked = append(hooked, r.Job) })))
	must(t, h.App.Schedule("job", leaderjob.FixedRate(time.Minute), nop))
	r := h.Trigger("job")
	if h.Guard != g || r.Outcome != guard.Skipped || r.Decision.Holder != "pod-b" {
		t.Fatalf("WithGuard: %s holder %q", r.Outcome, r.Decision.Holder)
	}
	if !r.ScheduledAt.Equal(start) {
		t.Fatalf("WithStartTime: trigger at %v, want %v", r.ScheduledAt, start)
	}
	if len(hooked) != 1 || len(h.Results()) != 1 {
		t.Fatalf("WithAppOptions: hook saw %v, harness %d results; want both to see the run", hooked, len(h.Results()))
	}
}

func TestAwaitReturnsEachResultOnce(t *testing.T) {
	h := leaderjobtest.New(t)
	must(t, h.App.Schedule("a", leaderjob.FixedRate(time.Minute), nop))
	must(t, h.App.Schedule("b", leaderjob.FixedRate(2*time.Minute), nop))
	start := h.Clock.Now()
	h.Start()
	for i := range 4 {
		if i > 0 {
			h.Advance(time.Minute)
		}
		if r, want := h.Await("a"), start.Add(time.Duration(i)*time.Minute); !r.ScheduledAt.Equal(want) {
			t.Fatalf("a, fire %d: %v, want %v", i, r.ScheduledAt, want)
		}
	}
	// b fired at +0 and +2m; its results waited until asked for.
	for i := range 2 {
		if r, want := h.Await("b"), start.Add(time.Duration(2*i)*time.Minute); !r.ScheduledAt.Equal(want) {
			t.Fatalf("b, fire %d: %v, want %v", i, r.ScheduledAt, want)
		}
	}
}

// fakeT records fatal failures instead of failing the real test. Calls that
// fail must run on their own goroutine: Fatal ends it.
type fakeT struct {
	testing.TB
	mu    sync.Mutex
	fatal []string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// failure runs fn on its own goroutine and returns the fatal message it
// caused, or "" if it returned normally.
func (f *fakeT) failure(t *testing.T, fn func()) string {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the harness call did not return")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.fatal) == 0 {
		return ""
	}
	msg := f.fatal[0]
	f.fatal = nil
	return msg
}

func TestHarnessFailsClearly(t *testing.T) {
	ft := &fakeT{TB: t}
	h := leaderjobtest.New(ft)
	must(t, h.App.Schedule("job", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))

	if msg := ft.failure(t, func() { h.Trigger("nope") }); !strings.Contains(msg, "nope") || !strings.Contains(msg, "unknown job") {
		t.Errorf("Trigger of an unknown job: %q", msg)
	}
	if msg := ft.failure(t, func() { _ = h.Stop() }); !strings.Contains(msg, "Stop before Start") {
		t.Errorf("Stop before Start: %q", msg)
	}

	old := leaderjobtest.WaitTimeout
	leaderjobtest.WaitTimeout = 20 * time.Millisecond
	defer func() { leaderjobtest.WaitTimeout = old }()
	if msg := ft.failure(t, func() { h.Await("job") }); !strings.Contains(msg, `no run of "job"`) {
		t.Errorf("Await with no run: %q", msg)
	}
	if msg := ft.failure(t, func() { h.Trigger("job") }); msg != "" {
		t.Errorf("a good Trigger failed: %q", msg)
	}
}

func TestStopReturnsRunsError(t *testing.T) {
	g := &failingRelease{Guard: guardtest.Leader()}
	h := leaderjobtest.New(t, leaderjobtest.WithGuard(g.Guard), leaderjobtest.WithAppOptions(leaderjob.WithGuard(g)))
	must(t, h.App.Schedule("job", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))
	h.Start()
	if err := h.Stop(); !errors.Is(err, errReleaseFailed) {
		t.Fatalf("Stop = %v, want Run's error", err)
	}
}

var errReleaseFailed = errors.New("lease update conflict")

type failingRelease struct{ *guardtest.Guard }

func (failingRelease) Release(context.Context) error { return errReleaseFailed }
