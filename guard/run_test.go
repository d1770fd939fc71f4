package guard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/leaderjob/leaderjob/guard"
)

// TestMain fails the package if a test leaves a goroutine behind, such as
// the one Run starts to watch a Decision's Lost channel.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every blocking step of these tests. The tests of timeouts
// run in a synctest bubble, where it is on the bubble's clock.
const wait = 5 * time.Second

// counter is a job that counts its calls.
type counter struct{ n atomic.Int32 }

func (c *counter) job(context.Context) error { c.n.Add(1); return nil }
func (c *counter) calls() int                { return int(c.n.Load()) }

// answer is a guard that always gives d and err.
func answer(d guard.Decision, err error) guard.Guard {
	return guard.CheckFunc(func(context.Context) (guard.Decision, error) { return d, err })
}

func TestRunLeaderRuns(t *testing.T) {
	var c counter
	d := guard.Decision{Leader: true, Holder: "pod-a", Self: "pod-a", Epoch: 7, HasEpoch: true}
	o := guard.Run(context.Background(), answer(d, nil), c.job)
	if o.Outcome != guard.Ran || o.Err != nil || o.Reason != "" {
		t.Fatalf("outcome = %s/%q/%v, want ran with no reason or error", o.Outcome, o.Reason, o.Err)
	}
	if c.calls() != 1 {
		t.Fatalf("job called %d times, want 1", c.calls())
	}
	if o.Decision.Holder != "pod-a" || o.Decision.Epoch != 7 || !o.Decision.Leader {
		t.Fatalf("outcome decision = %+v, want the guard's answer", o.Decision)
	}
}

func TestRunFollowerSkips(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    guard.Decision
		want string // in the error message
	}{
		{"holder", guard.Decision{Holder: "pod-b"}, `leader is "pod-b"`},
		{"detail", guard.Decision{Holder: "pod-b", Detail: "pod-b renewed 2s ago"}, "pod-b renewed 2s ago"},
		{"unknown", guard.Decision{}, "not the leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c counter
			o := guard.Run(context.Background(), answer(tc.d, nil), c.job)
			if c.calls() != 0 {
				t.Fatal("a follower called the job")
			}
			if o.Outcome != guard.Skipped || o.Reason != guard.ReasonNotLeader {
				t.Fatalf("outcome = %s/%q, want skipped/not_leader", o.Outcome, o.Reason)
			}
			if !errors.Is(o.Err, guard.ErrSkipped) || !errors.Is(o.Err, guard.ErrNotLeader) {
				t.Fatalf("err = %v, want ErrSkipped and ErrNotLeader", o.Err)
			}
			if !strings.Contains(o.Err.Error(), tc.want) || !strings.Contains(o.Err.Error(), string(guard.ReasonNotLeader)) {
				t.Fatalf("err = %q, want it to contain %q and the reason", o.Err, tc.want)
			}
			if o.Decision.Holder != tc.d.Holder || o.Duration != 0 {
				t.Fatalf("outcome = %+v, want the follower's decision and no duration", o)
			}
		})
	}
}

func TestRunGuardErrorSkips(t *testing.T) {
	plain := errors.New("boom")
	for _, tc := range []struct {
		err    error
		reason guard.Reason
	}{
		{guard.ErrForbidden, guard.ReasonForbidden},
		{guard.ErrStale, guard.ReasonStale},
		{guard.ErrLeaderUnknown, guard.ReasonLeaderUnknown},
		{guard.ErrUnavailable, guard.ReasonUnavailable},
		{guard.ErrReleased, guard.ReasonReleased},
		{fmt.Errorf("lease get: %w", guard.ErrForbidden), guard.ReasonForbidden},
		{fmt.Errorf("sidecar: %w", guard.ErrUnavailable), guard.ReasonUnavailable},
		{plain, guard.ReasonGuardError},
	} {
		t.Run(string(tc.reason)+"/"+tc.err.Error(), func(t *testing.T) {
			var c counter
			o := guard.Run(context.Background(), answer(guard.Decision{}, tc.err), c.job)
			if c.calls() != 0 {
				t.Fatal("the job ran although the guard failed")
			}
			if o.Outcome != guard.Skipped || o.Reason != tc.reason {
				t.Fatalf("outcome = %s/%q, want skipped/%q", o.Outcome, o.Reason, tc.reason)
			}
			if !errors.Is(o.Err, guard.ErrSkipped) || !errors.Is(o.Err, tc.err) {
				t.Fatalf("err = %v, want ErrSkipped and %v", o.Err, tc.err)
			}
			if got := guard.ReasonOf(tc.err); got != tc.reason {
				t.Fatalf("ReasonOf(%v) = %q, want %q", tc.err, got, tc.reason)
			}
		})
	}
}

func TestReasonOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want guard.Reason
	}{
		{nil, ""},
		{guard.ErrNotLeader, guard.ReasonNotLeader},
		{guard.ErrLeadershipLost, guard.ReasonNotLeader},
		// a deadline that is not the check's own: the source timed out upstream
		{context.DeadlineExceeded, guard.ReasonUnavailable},
		{fmt.Errorf("renew lease: %w", context.DeadlineExceeded), guard.ReasonUnavailable},
		{context.Canceled, guard.ReasonCanceled},
		// the most specific class wins when several apply
		{errors.Join(guard.ErrUnavailable, guard.ErrForbidden), guard.ReasonForbidden},
		{errors.Join(guard.ErrUnavailable, guard.ErrStale), guard.ReasonStale},
		{errors.New("anything else"), guard.ReasonGuardError},
	} {
		if got := guard.ReasonOf(tc.err); got != tc.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A guard that answers at once with an error of its own that carries a
// deadline (its last upstream request timed out) is not a check timeout:
// the reason is unavailable and the message is the guard's.
func TestRunUpstreamTimeoutIsNotACheckTimeout(t *testing.T) {
	synctest.Test(t, testRunUpstreamTimeoutIsNotACheckTimeout)
}

func testRunUpstreamTimeoutIsNotACheckTimeout(t *testing.T) {
	upstream := fmt.Errorf("%w: lease default/app: update: %w", guard.ErrUnavailable, context.DeadlineExceeded)
	for _, err := range []error{upstream, fmt.Errorf("renew: %w", context.DeadlineExceeded)} {
		var c counter
		o := guard.Run(context.Background(), guard.CheckFunc(func(context.Context) (guard.Decision, error) {
			return guard.Decision{}, err
		}), c.job, guard.CheckTimeout(time.Second))
		if o.Outcome != guard.Skipped || o.Reason != guard.ReasonUnavailable {
			t.Fatalf("%v: outcome %s/%s, want skipped/unavailable", err, o.Outcome, o.Reason)
		}
		if strings.Contains(o.Err.Error(), "did not answer") || !strings.Contains(o.Err.Error(), err.Error()) {
			t.Fatalf("message %q, want the guard's own error", o.Err)
		}
		if o.CheckDuration != 0 {
			t.Fatalf("check took %v, want no time: the guard answered at once", o.CheckDuration)
		}
	}
}

func TestRunSlowGuardTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check guard.CheckFunc
	}{
		{"honours ctx", func(ctx context.Context) (guard.Decision, error) {
			<-ctx.Done()
			return guard.Decision{}, ctx.Err()
		}},
		// An answer that comes after the deadline is not trusted, even a yes.
		{"answers late", func(ctx context.Context) (guard.Decision, error) {
			<-ctx.Done()
			return guard.Decision{Leader: true}, nil
		}},
		{"wraps the cause", func(ctx context.Context) (guard.Decision, error) {
			<-ctx.Done()
			return guard.Decision{}, fmt.Errorf("sidecar: %w", context.Cause(ctx))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				testSlowGuardTimesOut(t, tc.check)
			})
		})
	}
}

func testSlowGuardTimesOut(t *testing.T, check guard.CheckFunc) {
	var c counter
	o := guard.Run(context.Background(), check, c.job, guard.CheckTimeout(10*time.Millisecond))
	if c.calls() != 0 {
		t.Fatal("the job ran although the guard did not answer in time")
	}
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonTimeout {
		t.Fatalf("outcome = %s/%q (%v), want skipped/timeout", o.Outcome, o.Reason, o.Err)
	}
	if !errors.Is(o.Err, context.DeadlineExceeded) || !strings.Contains(o.Err.Error(), "10ms") {
		t.Fatalf("err = %v, want a deadline error naming the timeout", o.Err)
	}
	if o.Decision.Leader {
		t.Fatal("a late yes was kept in the outcome")
	}
	if o.CheckDuration != 10*time.Millisecond {
		t.Fatalf("the check took %v, want the timeout, 10ms", o.CheckDuration)
	}
}

func TestRunCheckDeadline(t *testing.T) {
	synctest.Test(t, testRunCheckDeadline)
}

func testRunCheckDeadline(t *testing.T) {
	for _, tc := range []struct {
		opts []guard.Option
		want time.Duration
	}{
		{nil, guard.DefaultCheckTimeout},
		{[]guard.Option{guard.CheckTimeout(0)}, guard.DefaultCheckTimeout},
		{[]guard.Option{guard.CheckTimeout(-time.Second)}, guard.DefaultCheckTimeout},
		{[]guard.Option{guard.CheckTimeout(time.Hour)}, time.Hour},
	} {
		var left time.Duration
		g := guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) {
			dl, ok := ctx.Deadline()
			if !ok {
				t.Error("the check has no deadline")
			}
			left = time.Until(dl)
			return guard.Decision{Leader: true}, nil
		})
		guard.Run(context.Background(), g, func(context.Context) error { return nil }, tc.opts...)
		if left != tc.want {
			t.Errorf("options %d: check deadline %v away, want %v", len(tc.opts), left, tc.want)
		}
	}
}

func TestRunLeaderWithErrorFailsClosed(t *testing.T) {
	var c counter
	lost := make(chan struct{})
	d := guard.Decision{Leader: true, Holder: "pod-a", Lost: lost}
	o := guard.Run(context.Background(), answer(d, guard.ErrStale), c.job)
	if c.calls() != 0 {
		t.Fatal("the job ran on a yes that came with an error")
	}
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonStale || !errors.Is(o.Err, guard.ErrStale) {
		t.Fatalf("outcome = %s/%q (%v), want skipped/stale", o.Outcome, o.Reason, o.Err)
	}
	if o.Decision.Leader {
		t.Fatal("the outcome keeps a Leader decision that was not trusted")
	}
}

func TestRunGuardPanicSkips(t *testing.T) {
	var c counter
	g := guard.CheckFunc(func(context.Context) (guard.Decision, error) { panic("nil map") })
	o := guard.Run(context.Background(), g, c.job)
	if c.calls() != 0 {
		t.Fatal("the job ran after the guard panicked")
	}
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonGuardError || !strings.Contains(o.Err.Error(), "nil map") {
		t.Fatalf("outcome = %s/%q (%v), want skipped/guard_error naming the panic", o.Outcome, o.Reason, o.Err)
	}
}

func TestRunLostBeforeRunSkips(t *testing.T) {
	var c counter
	lost := make(chan struct{})
	close(lost)
	o := guard.Run(context.Background(), answer(guard.Decision{Leader: true, Lost: lost}, nil), c.job)
	if c.calls() != 0 {
		t.Fatal("the job ran under a term that had already ended")
	}
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonNotLeader || !errors.Is(o.Err, guard.ErrNotLeader) {
		t.Fatalf("outcome = %s/%q (%v), want skipped/not_leader", o.Outcome, o.Reason, o.Err)
	}
}

func TestRunLostDuringRunCancelsJob(t *testing.T) {
	synctest.Test(t, testRunLostDuringRunCancelsJob)
}

func testRunLostDuringRunCancelsJob(t *testing.T) {
	lost := make(chan struct{})
	running := make(chan struct{})
	go func() { <-running; close(lost) }()
	o := guard.Run(context.Background(), answer(guard.Decision{Leader: true, Lost: lost}, nil),
		func(ctx context.Context) error {
			close(running)
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(wait):
				return errors.New("the job context was not cancelled when the term ended")
			}
		})
	if o.Outcome != guard.Canceled || !errors.Is(o.Err, guard.ErrLeadershipLost) {
		t.Fatalf("outcome = %s (%v), want canceled with cause ErrLeadershipLost", o.Outcome, o.Err)
	}
}

func TestRunJobContextEndsAfterRun(t *testing.T) {
	var kept context.Context
	lost := make(chan struct{}) // never closed: the watcher must still stop
	guard.Run(context.Background(), answer(guard.Decision{Leader: true, Lost: lost}, nil),
		func(ctx context.Context) error { kept = ctx; return nil })
	if kept.Err() == nil {
		t.Fatal("the run context outlives the run")
	}
	if errors.Is(context.Cause(kept), guard.ErrLeadershipLost) {
		t.Fatal("a finished run reports leadership lost")
	}
}

func TestRunJobError(t *testing.T) {
	boom := errors.New("boom")
	o := guard.Run(context.Background(), guard.Always, func(context.Context) error { return boom })
	if o.Outcome != guard.Failed || o.Err != boom || o.Reason != "" {
		t.Fatalf("outcome = %s/%q (%v), want failed with the job's error", o.Outcome, o.Reason, o.Err)
	}
}

func TestRunJobPanic(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		value  any
		unwrap error
		msg    string
	}{
		{boom, boom, "panic: boom"},
		{"out of range", nil, "panic: out of range"},
		{42, nil, "panic: 42"},
	} {
		o := guard.Run(context.Background(), guard.Always, func(context.Context) error { panic(tc.value) })
		if o.Outcome != guard.Panicked {
			t.Fatalf("panic(%v): kind = %s, want panicked", tc.value, o.Outcome)
		}
		var pe *guard.PanicError
		if !errors.As(o.Err, &pe) {
			t.Fatalf("panic(%v): err = %T, want *guard.PanicError", tc.value, o.Err)
		}
		if pe.Value != tc.value || pe.Error() != tc.msg || pe.Unwrap() != tc.unwrap {
			t.Fatalf("panic(%v): value %v, message %q, unwrap %v", tc.value, pe.Value, pe.Error(), pe.Unwrap())
		}
		if len(pe.Stack) == 0 || !strings.Contains(string(pe.Stack), "run_test.go") {
			t.Fatalf("panic(%v): stack does not show the panicking function:\n%s", tc.value, pe.Stack)
		}
		if tc.unwrap != nil && !errors.Is(o.Err, boom) {
			t.Fatal("errors.Is does not see the panicked error")
		}
	}
}

func TestRunCanceledContextSkips(t *testing.T) {
	var checks atomic.Int32
	g := guard.CheckFunc(func(context.Context) (guard.Decision, error) {
		checks.Add(1)
		return guard.Decision{Leader: true}, nil
	})
	stopping := errors.New("stopping")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopping)
	var c counter
	o := guard.Run(ctx, g, c.job)
	if c.calls() != 0 || checks.Load() != 0 {
		t.Fatalf("job calls %d, checks %d: want neither once the context ended", c.calls(), checks.Load())
	}
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonCanceled {
		t.Fatalf("outcome = %s/%q, want skipped/canceled", o.Outcome, o.Reason)
	}
	if !errors.Is(o.Err, guard.ErrSkipped) || !errors.Is(o.Err, stopping) {
		t.Fatalf("err = %v, want ErrSkipped and the context's cause", o.Err)
	}
}

func TestRunCanceledDuringCheckSkips(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) {
		cancel()
		<-ctx.Done()
		return guard.Decision{}, ctx.Err()
	})
	var c counter
	o := guard.Run(ctx, g, c.job)
	if c.calls() != 0 || o.Outcome != guard.Skipped || o.Reason != guard.ReasonCanceled {
		t.Fatalf("outcome = %s/%q (%v), calls %d; want skipped/canceled, no call", o.Outcome, o.Reason, o.Err, c.calls())
	}
}

func TestDecisionFrom(t *testing.T) {
	if _, ok := guard.DecisionFrom(context.Background()); ok {
		t.Fatal("DecisionFrom outside a run reports ok")
	}
	want := guard.Decision{Leader: true, Holder: "pod-a", Self: "pod-a", Epoch: 3, HasEpoch: true, Detail: "renewed"}
	var got guard.Decision
	var ok bool
	o := guard.Run(context.Background(), answer(want, nil), func(ctx context.Context) error {
		got, ok = guard.DecisionFrom(ctx)
		return nil
	})
	if o.Outcome != guard.Ran || !ok {
		t.Fatalf("outcome %s, found %v", o.Outcome, ok)
	}
	if got.Holder != want.Holder || got.Epoch != want.Epoch || !got.HasEpoch || got.Detail != want.Detail || !got.Leader {
		t.Fatalf("DecisionFrom = %+v, want %+v", got, want)
	}

	if _, ok := guard.DecisionFrom(context.Background()); ok {
		t.Fatal("a Decision outside a run")
	}
}

func TestWrap(t *testing.T) {
	synctest.Test(t, testWrap)
}

func testWrap(t *testing.T) {
	boom := errors.New("boom")
	var c counter
	if err := guard.Wrap(guard.Always, c.job)(context.Background()); err != nil || c.calls() != 1 {
		t.Fatalf("leader: err %v, calls %d; want nil, 1", err, c.calls())
	}
	err := guard.Wrap(guard.Never, c.job)(context.Background())
	if !errors.Is(err, guard.ErrSkipped) || !errors.Is(err, guard.ErrNotLeader) || c.calls() != 1 {
		t.Fatalf("follower: err %v, calls %d; want ErrSkipped+ErrNotLeader and no call", err, c.calls())
	}
	if err := guard.Wrap(guard.Always, func(context.Context) error { return boom })(context.Background()); err != boom {
		t.Fatalf("job error: %v, want it unchanged", err)
	}
	var pe *guard.PanicError
	if err := guard.Wrap(guard.Always, func(context.Context) error { panic("x") })(context.Background()); !errors.As(err, &pe) {
		t.Fatalf("job panic: %v, want *PanicError", err)
	}
	slow := guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) { <-ctx.Done(); return guard.Decision{}, ctx.Err() })
	err = guard.Wrap(slow, c.job, guard.CheckTimeout(time.Millisecond))(context.Background())
	if !errors.Is(err, guard.ErrSkipped) || guard.ReasonOf(err) != guard.ReasonTimeout || c.calls() != 1 {
		t.Fatalf("slow guard: %v, want a skip classed as timeout (options passed through)", err)
	}
}

func TestAlwaysNever(t *testing.T) {
	d, err := guard.Always.Check(context.Background())
	if err != nil || !d.Leader {
		t.Fatalf("Always = %+v, %v", d, err)
	}
	d, err = guard.Never.Check(context.Background())
	if err != nil || d.Leader {
		t.Fatalf("Never = %+v, %v", d, err)
	}
	if fmt.Sprint(guard.Always) != "always" || fmt.Sprint(guard.Never) != "never" {
		t.Fatalf("names: %v, %v", guard.Always, guard.Never)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, g := range []guard.Guard{guard.Always, guard.Never} {
		if d, err := g.Check(ctx); !errors.Is(err, context.Canceled) || d.Leader {
			t.Errorf("%v with an ended context = %+v, %v; want context.Canceled", g, d, err)
		}
	}
	o := guard.Run(context.Background(), guard.Never, func(context.Context) error {
		t.Error("Never let the job run")
		return nil
	})
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonNotLeader || !strings.Contains(o.Err.Error(), "never") {
		t.Fatalf("Run under Never = %s/%q (%v)", o.Outcome, o.Reason, o.Err)
	}
}

func TestRunConcurrent(t *testing.T) {
	lost := make(chan struct{})
	g := answer(guard.Decision{Leader: true, Lost: lost}, nil)
	var c counter
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if o := guard.Run(context.Background(), g, c.job); o.Outcome != guard.Ran {
				t.Errorf("outcome %s (%v)", o.Outcome, o.Err)
			}
		})
	}
	wg.Wait()
	if c.calls() != 32 {
		t.Fatalf("calls = %d, want 32", c.calls())
	}
}
