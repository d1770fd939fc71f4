package guardtest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

func check(t *testing.T, g *guardtest.Guard) (guard.Decision, error) {
	t.Helper()
	return g.Check(context.Background())
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestNewStartsAsFollower(t *testing.T) {
	g := guardtest.New()
	d, err := check(t, g)
	if err != nil || d.Leader || d.Holder != "" || d.Self != guardtest.DefaultSelf || d.Lost != nil {
		t.Fatalf("New: %+v, %v; want a follower with no known leader", d, err)
	}
	if !d.HasEpoch || d.Epoch != 0 || g.Epoch() != 0 {
		t.Fatalf("New: epoch %d (has %v), Epoch() %d; want 0", d.Epoch, d.HasEpoch, g.Epoch())
	}

	d, _ = check(t, guardtest.Follower("pod-b", guardtest.WithSelf("pod-a")))
	if d.Leader || d.Holder != "pod-b" || d.Self != "pod-a" {
		t.Fatalf("Follower: %+v", d)
	}
}

func TestLeaderFlipsAndEpochGrowsPerTerm(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	d1, err := check(t, g)
	if err != nil || !d1.Leader || d1.Holder != "pod-a" || d1.Self != "pod-a" || d1.Epoch != 1 || !d1.HasEpoch {
		t.Fatalf("Leader: %+v, %v; want leader pod-a in epoch 1", d1, err)
	}
	if d1.Lost == nil || isClosed(d1.Lost) {
		t.Fatal("a current term has no open Lost channel")
	}

	g.SetLeader() // already leading: same term
	d, _ := check(t, g)
	if d.Epoch != 1 || d.Lost != d1.Lost {
		t.Fatalf("SetLeader while leading began a new term: epoch %d", d.Epoch)
	}

	g.SetFollower("pod-b")
	if !isClosed(d1.Lost) {
		t.Fatal("SetFollower did not close the term's Lost channel")
	}
	d, _ = check(t, g)
	if d.Leader || d.Holder != "pod-b" || d.Lost != nil || d.Epoch != 1 {
		t.Fatalf("after SetFollower: %+v", d)
	}

	g.SetLeader()
	d2, _ := check(t, g)
	if !d2.Leader || d2.Epoch != 2 || g.Epoch() != 2 || d2.Lost == nil || isClosed(d2.Lost) {
		t.Fatalf("second term: %+v; want leader in epoch 2 with an open Lost", d2)
	}

	g.LoseLeadership()
	if !isClosed(d2.Lost) {
		t.Fatal("LoseLeadership did not close Lost")
	}
	if d, _ = check(t, g); d.Leader || d.Holder != "" {
		t.Fatalf("after LoseLeadership: %+v", d)
	}
	g.SetFollower("pod-c") // following while following: nothing to close, no panic
}

func TestSetError(t *testing.T) {
	g := guardtest.Leader()
	d1, _ := check(t, g)
	g.SetError(guard.ErrUnavailable)
	if !isClosed(d1.Lost) {
		t.Fatal("SetError did not end the term")
	}
	d, err := check(t, g)
	if !errors.Is(err, guard.ErrUnavailable) || d.Leader {
		t.Fatalf("after SetError: %+v, %v", d, err)
	}
	g.SetLeader()
	if d, err = check(t, g); err != nil || !d.Leader || d.Epoch != 2 {
		t.Fatalf("SetLeader after SetError: %+v, %v; want a clean leader in epoch 2", d, err)
	}
	g.SetError(guard.ErrStale)
	g.SetFollower("pod-b")
	if d, err = check(t, g); err != nil || d.Holder != "pod-b" {
		t.Fatalf("SetFollower after SetError: %+v, %v; want the error cleared", d, err)
	}
}

func TestReleaseAndStart(t *testing.T) {
	g := guardtest.Leader()
	if g.Started() || g.Released() {
		t.Fatal("a new guard reports Started or Released")
	}
	if err := g.Start(context.Background()); err != nil || !g.Started() {
		t.Fatalf("Start: %v, Started %v", err, g.Started())
	}
	d1, _ := check(t, g)
	if err := g.Release(context.Background()); err != nil || !g.Released() {
		t.Fatalf("Release: %v, Released %v", err, g.Released())
	}
	if !isClosed(d1.Lost) {
		t.Fatal("Release did not end the term")
	}
	g.SetLeader() // a released guard stays released
	d, err := check(t, g)
	if !errors.Is(err, guard.ErrReleased) || d.Leader {
		t.Fatalf("after Release: %+v, %v; want ErrReleased", d, err)
	}
	if r := guard.ReasonOf(err); r != guard.ReasonReleased {
		t.Fatalf("reason %q", r)
	}
}

// The delays are on the clock of a synctest bubble: exact, and no wait.
func TestSetDelayHonoursContext(t *testing.T) {
	synctest.Test(t, testSetDelayHonoursContext)
}

func testSetDelayHonoursContext(t *testing.T) {
	start := time.Now()
	g := guardtest.Leader()
	g.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	type res struct {
		d   guard.Decision
		err error
	}
	done := make(chan res, 1)
	go func() { d, err := g.Check(ctx); done <- res{d, err} }()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.DeadlineExceeded) || r.d.Leader {
			t.Fatalf("delayed check = %+v, %v; want a deadline error", r.d, r.err)
		}
		if took := time.Since(start); took != 10*time.Millisecond {
			t.Fatalf("the delayed check returned after %v, want its context's 10ms", took)
		}
	case <-time.After(wait):
		t.Fatal("a delayed Check ignored its context")
	}
	cks := g.Checks()
	if len(cks) != 1 || !errors.Is(cks[0].Err, context.DeadlineExceeded) {
		t.Fatalf("checks = %+v, want the timed-out check recorded", cks)
	}

	o := guard.Run(context.Background(), g, func(context.Context) error {
		t.Error("the job ran behind a guard that answered too late")
		return nil
	}, guard.CheckTimeout(5*time.Millisecond))
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonTimeout {
		t.Fatalf("Run with a slow fake = %s/%q", o.Outcome, o.Reason)
	}

	g.SetDelay(time.Millisecond)
	start = time.Now()
	if d, err := check(t, g); err != nil || !d.Leader || time.Since(start) != time.Millisecond {
		t.Fatalf("short delay: %+v, %v after %v; want the answer after the 1ms delay", d, err, time.Since(start))
	}
}

func TestChecksAreRecorded(t *testing.T) {
	g := guardtest.New()
	before := time.Now()
	check(t, g)
	g.SetLeader()
	check(t, g)
	g.SetError(guard.ErrForbidden)
	check(t, g)

	cks := g.Checks()
	if len(cks) != 3 {
		t.Fatalf("%d checks recorded, want 3", len(cks))
	}
	if cks[0].Decision.Leader || !cks[1].Decision.Leader || !errors.Is(cks[2].Err, guard.ErrForbidden) {
		t.Fatalf("checks out of order or wrong: %+v", cks)
	}
	if cks[0].At.Before(before) || cks[1].At.Before(cks[0].At) || cks[2].At.Before(cks[1].At) {
		t.Fatalf("check times not in order: %v %v %v", cks[0].At, cks[1].At, cks[2].At)
	}
	cks[0].Decision.Holder = "mutated"
	if g.Checks()[0].Decision.Holder == "mutated" {
		t.Fatal("Checks returns the guard's own slice, not a copy")
	}
}

func TestHealthy(t *testing.T) {
	g := guardtest.New()
	if err := g.Healthy(); err != nil {
		t.Fatalf("new guard unhealthy: %v", err)
	}
	wedged := errors.New("renew loop stuck")
	g.SetUnhealthy(wedged)
	if err := g.Healthy(); err != wedged {
		t.Fatalf("Healthy = %v, want %v", err, wedged)
	}
	g.SetUnhealthy(nil)
	if err := g.Healthy(); err != nil {
		t.Fatalf("Healthy after reset = %v", err)
	}
}

func TestFlipDuringRunCancelsJob(t *testing.T) {
	for _, tc := range []struct {
		name string
		flip func(*guardtest.Guard)
	}{
		{"SetFollower", func(g *guardtest.Guard) { g.SetFollower("pod-b") }},
		{"SetError", func(g *guardtest.Guard) { g.SetError(guard.ErrUnavailable) }},
		{"Release", func(g *guardtest.Guard) { _ = g.Release(context.Background()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := guardtest.Leader()
			running := make(chan struct{})
			go func() { <-running; tc.flip(g) }()
			o := guard.Run(context.Background(), g, func(ctx context.Context) error {
				close(running)
				select {
				case <-ctx.Done():
					return context.Cause(ctx)
				case <-time.After(wait):
					return errors.New("not cancelled")
				}
			})
			if o.Outcome != guard.Canceled || !errors.Is(o.Err, guard.ErrLeadershipLost) {
				t.Fatalf("outcome %s (%v), want the run cancelled with ErrLeadershipLost", o.Outcome, o.Err)
			}
			if o.Decision.Epoch != 1 {
				t.Fatalf("outcome epoch %d, want the term the run started in", o.Decision.Epoch)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	g := guardtest.Leader()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				switch (i + j) % 4 {
				case 0:
					g.SetLeader()
				case 1:
					g.SetFollower("pod-b")
				default:
					guard.Run(context.Background(), g, func(context.Context) error { return nil })
				}
			}
		})
	}
	wg.Wait()
	if n := len(g.Checks()); n != 8*50/2 {
		t.Fatalf("%d checks recorded, want %d", n, 8*50/2)
	}
}
