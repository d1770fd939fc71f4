package lease

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/leaderjob/leaderjob/guard"
)

// The freshness rule, the term and the expiry timer, on a fake clock. The
// timer functions run in goroutines of their own: the tests that step the
// clock run in a synctest bubble, where synctest.Wait returns once those
// goroutines have done their work, so that "nothing happened yet" is
// checked after everything that could happen has.

var epoch0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// lockedTenure is a tenure with the lock its timer needs.
type lockedTenure struct {
	mu       sync.Mutex
	t        tenure
	released bool
}

func newTenure(c *clocktesting.FakeClock, renewDeadline time.Duration) *lockedTenure {
	lt := &lockedTenure{}
	lt.t = tenure{clock: c, renewDeadline: renewDeadline, log: slog.New(slog.DiscardHandler), desc: "ns/app",
		recheck: func() { lt.do(func(t *tenure) {}) }}
	return lt
}

// do calls f and reconciles, under the lock.
func (lt *lockedTenure) do(f func(t *tenure)) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	f(&lt.t)
	lt.t.reconcile(lt.released)
}

func (lt *lockedTenure) term() *term {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return lt.t.term
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestTermEndsExactlyAtTheRenewDeadline(t *testing.T) {
	synctest.Test(t, testTermEndsExactlyAtTheRenewDeadline)
}

func testTermEndsExactlyAtTheRenewDeadline(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	lt := newTenure(c, 2*time.Second)
	lt.do(func(t *tenure) { t.renewed(c.Now(), 7, "uid") })
	if lt.term() != nil {
		t.Fatal("a term opened before the elector leads")
	}
	lt.do(func(t *tenure) { t.leading = context.Background() })
	tm := lt.term()
	if tm == nil || tm.epoch != 7 {
		t.Fatalf("term = %+v, want one with epoch 7", tm)
	}
	c.Step(1999 * time.Millisecond)
	synctest.Wait()
	if lt.term() != tm || isClosed(tm.lost) {
		t.Fatal("the term ended before the renew deadline")
	}
	c.Step(time.Millisecond)
	synctest.Wait()
	if lt.term() != nil || !isClosed(tm.lost) {
		t.Fatal("the stale timer did not end the term at the renew deadline")
	}
}

func TestRenewalsExtendTheTerm(t *testing.T) {
	synctest.Test(t, testRenewalsExtendTheTerm)
}

func testRenewalsExtendTheTerm(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	lt := newTenure(c, 2*time.Second)
	lt.do(func(t *tenure) { t.leading = context.Background(); t.renewed(c.Now(), 1, "uid") })
	tm := lt.term()
	for range 5 { // five renewals 1.5s apart: 7.5s, well over the deadline
		c.Step(1500 * time.Millisecond)
		lt.do(func(t *tenure) { t.renewed(c.Now(), 1, "uid") })
	}
	synctest.Wait()
	if lt.term() != tm || isClosed(tm.lost) {
		t.Fatal("a term renewed within the deadline ended")
	}
	c.Step(2 * time.Second)
	synctest.Wait()
	if !isClosed(tm.lost) {
		t.Fatal("the term did not end 2s after the last renewal")
	}
}

// A renewal counts from when it was sent: one that took longer than the
// renew deadline to come back opens no term.
func TestALateAnswerOpensNoTerm(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	lt := newTenure(c, 2*time.Second)
	sent := c.Now()
	c.Step(2 * time.Second)
	lt.do(func(t *tenure) { t.leading = context.Background(); t.renewed(sent, 1, "uid") })
	if lt.term() != nil {
		t.Fatal("a renewal sent 2s ago opened a term")
	}
}

func TestTermEndsWhenTheElectorStopsOrTheGuardIsReleased(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	for _, end := range []func(lt *lockedTenure, cancel context.CancelFunc){
		func(lt *lockedTenure, cancel context.CancelFunc) { cancel(); lt.do(func(*tenure) {}) },
		func(lt *lockedTenure, cancel context.CancelFunc) { lt.do(func(t *tenure) { t.leading = nil }) },
		func(lt *lockedTenure, cancel context.CancelFunc) { lt.released = true; lt.do(func(*tenure) {}) },
	} {
		lt := newTenure(c, 2*time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		lt.do(func(t *tenure) { t.leading = ctx; t.renewed(c.Now(), 1, "uid") })
		tm := lt.term()
		end(lt, cancel)
		if lt.term() != nil || !isClosed(tm.lost) {
			t.Error("the term is still open")
		}
		cancel()
	}
}

func fakeLease(holder string, epoch int32, rv string) *coordinationv1.Lease {
	seconds := int32(3)
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", ResourceVersion: rv},
		Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &seconds, LeaseTransitions: &epoch}}
	if holder != "" {
		l.Spec.HolderIdentity = &holder
	}
	return l
}

func TestObservationOrdersByResourceVersion(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	o := observation{clock: c, self: "pod-a"}
	if ch, ok := o.observe(fakeLease("pod-b", 1, "10")); !ok || ch.Previous != "" || ch.Holder != "pod-b" || ch.Epoch != 1 || ch.Self != "pod-a" {
		t.Errorf("first observation = %+v, %v", ch, ok)
	}
	c.Step(time.Second)
	if _, ok := o.observe(fakeLease("pod-b", 1, "11")); ok {
		t.Error("a renewal by the same holder is a change")
	}
	if !o.at.Equal(c.Now()) {
		t.Errorf("observed at %v, want %v", o.at, c.Now())
	}
	if _, ok := o.observe(fakeLease("pod-c", 2, "9")); ok || o.holder != "pod-b" {
		t.Error("an older resourceVersion replaced a newer one")
	}
	if ch, ok := o.observe(fakeLease("", 1, "12")); !ok || ch.Previous != "pod-b" || ch.Holder != "" {
		t.Errorf("release = %+v, %v", ch, ok)
	}
	if ch, ok := o.observe(fakeLease("pod-c", 2, "13")); !ok || ch.Holder != "pod-c" || ch.Epoch != 2 {
		t.Errorf("take-over = %+v, %v", ch, ok)
	}
}

// The expiry timer fires LeaseDuration plus the margin after the elector
// last saw the record change; a read of the same record does not move it.
func TestExpiryIsArmedFromTheLastChangeTheElectorSaw(t *testing.T) {
	synctest.Test(t, testExpiryIsArmedFromTheLastChangeTheElectorSaw)
}

func testExpiryIsArmedFromTheLastChangeTheElectorSaw(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	var mu sync.Mutex
	var fired []time.Time
	o := observation{clock: c, self: "pod-a", expired: func() { mu.Lock(); fired = append(fired, c.Now()); mu.Unlock() }}
	firedAt := func() []time.Time { mu.Lock(); defer mu.Unlock(); return append([]time.Time(nil), fired...) }

	o.read(fakeLease("pod-b", 1, "10"), []byte("renewed at 0s"))
	c.Step(time.Second)
	o.read(fakeLease("pod-b", 1, "10"), []byte("renewed at 0s")) // unchanged
	c.Step(2*time.Second + kickMargin - time.Millisecond)
	synctest.Wait()
	if len(firedAt()) != 0 {
		t.Fatal("fired before LeaseDuration + margin")
	}
	c.Step(time.Millisecond)
	synctest.Wait()
	if n := len(firedAt()); n != 1 {
		t.Fatalf("fired %d times at 3.05s, want once", n)
	}

	// A renewal seen at 4s moves it to 7.05s.
	c.SetTime(epoch0.Add(4 * time.Second))
	o.read(fakeLease("pod-b", 1, "11"), []byte("renewed at 4s"))
	c.SetTime(epoch0.Add(7*time.Second + kickMargin - time.Millisecond))
	synctest.Wait()
	if len(firedAt()) != 1 {
		t.Fatal("fired before the renewal's expiry")
	}
	c.Step(time.Millisecond)
	synctest.Wait()
	if n := len(firedAt()); n != 2 {
		t.Fatalf("fired %d times by 7.05s, want twice", n)
	}

	// No timer for a free Lease or one this replica holds.
	for _, holder := range []string{"", "pod-a"} {
		o.read(fakeLease("pod-b", 1, "12"), []byte("renewed at 7.05s by pod-b"))
		o.read(fakeLease(holder, 2, "13"), []byte("held by "+holder))
		c.Step(time.Minute)
		synctest.Wait()
		if n := len(firedAt()); n != 2 {
			t.Fatalf("fired %d times, want 2: the timer was armed for holder %q", n, holder)
		}
	}
}

// Check's answer follows the rule on the guard's clock: leader while the
// last renewal is younger than the renew deadline, stale after, and the
// term's Lost channel closes at that moment.
func TestCheckFollowsTheFreshnessRule(t *testing.T) {
	synctest.Test(t, testCheckFollowsTheFreshnessRule)
}

func testCheckFollowsTheFreshnessRule(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	g, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, "pod-a", WithName("app"), WithNamespace("ns"),
		WithLeaseDuration(3*time.Second), WithRenewDeadline(2*time.Second), WithRetryPeriod(500*time.Millisecond), withClock(c))
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.life.started = true
	g.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g.startedLeading(ctx)
	g.wrote(fakeLease("pod-a", 4, "20"), c.Now())
	d, err := g.Check(context.Background())
	if err != nil || !d.Leader || d.Epoch != 4 || d.Lost == nil || !d.Observed.Equal(epoch0) {
		t.Fatalf("Check = %+v, %v; want leader with epoch 4", d, err)
	}
	c.Step(1999 * time.Millisecond)
	if d2, err := g.Check(context.Background()); err != nil || !d2.Leader || d2.Lost != d.Lost {
		t.Fatalf("Check at 1.999s = %+v, %v; want the same term", d2, err)
	}
	c.Step(time.Millisecond)
	synctest.Wait()
	if !isClosed(d.Lost) {
		t.Fatal("Lost did not close at the renew deadline")
	}
	_, err = g.Check(context.Background())
	if !errors.Is(err, guard.ErrStale) || !strings.Contains(err.Error(), "last renewed 2s ago") {
		t.Errorf("Check at 2s = %v, want stale, last renewed 2s ago", err)
	}
	c.Step(100 * time.Millisecond)
	g.wrote(fakeLease("pod-a", 4, "21"), c.Now())
	d3, err := g.Check(context.Background())
	if err != nil || !d3.Leader || d3.Epoch != 4 || d3.Lost == d.Lost {
		t.Errorf("Check after a late renewal = %+v, %v; want a new term, same epoch", d3, err)
	}
}

// A standby's elector reads the Lease from the watch while the watch is up,
// and from the apiserver when the watch is down, after a conflict, after a
// deletion, while a refusal waits, and while this replica holds the Lease.
func TestStandbyReadsComeFromTheWatch(t *testing.T) {
	c := clocktesting.NewFakeClock(epoch0)
	g, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, "pod-a", WithName("app"), WithNamespace("ns"), withClock(c))
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(fakeLease("pod-b", 1, "10"))
	l := &leaseLock{g: g, client: cs.CoordinationV1().Leases("ns")}
	ctx := context.Background()
	gets := 0
	get := func(fromServer bool, wantRV string) {
		t.Helper()
		if _, _, err := l.Get(ctx); err != nil {
			t.Fatal(err)
		}
		if fromServer {
			gets++
		}
		n := 0
		for _, a := range cs.Actions() {
			if a.GetVerb() == "get" {
				n++
			}
		}
		if n != gets {
			t.Errorf("%d gets sent, want %d", n, gets)
		}
		if wantRV != "" && l.cached.ResourceVersion != wantRV {
			t.Errorf("read resourceVersion %s, want %s", l.cached.ResourceVersion, wantRV)
		}
	}

	get(true, "10") // no watch yet
	g.watchState(true)
	g.watched(fakeLease("pod-b", 1, "11"), false)
	get(false, "11")
	g.watched(fakeLease("pod-b", 1, "12"), false)
	get(false, "12")
	get(false, "12")

	g.failed(ctx, "update", "take-over", c.Now(), apierrors.NewConflict(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "app", errors.New("stale")))
	get(true, "10") // the fake apiserver's own copy
	get(false, "12")

	g.watchState(false)
	get(true, "")
	g.watchState(true)
	get(false, "12")

	g.watched(fakeLease("pod-b", 1, "13"), true)
	get(true, "")
	g.watched(fakeLease("pod-b", 2, "14"), false)
	get(false, "14")

	g.mu.Lock()
	g.tenure.holding = true
	g.mu.Unlock()
	get(true, "")
	g.mu.Lock()
	g.tenure.holding = false
	g.errs.refused = &AccessError{Namespace: "ns", Name: "app", Verb: "get", Err: errors.New("forbidden")}
	g.mu.Unlock()
	get(true, "")
}

// A Lease newer than this replica's last renewal that names another holder
// (or none) ends the term at once, not at the renew deadline: after a pause,
// another replica may have taken the Lease while the last renewal still
// looks fresh.
func TestTermEndsWhenANewerLeaseNamesAnotherHolder(t *testing.T) {
	for _, holder := range []string{"pod-b", ""} {
		c := clocktesting.NewFakeClock(epoch0)
		g, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, "pod-a", WithName("app"), WithNamespace("ns"),
			WithLeaseDuration(3*time.Second), WithRenewDeadline(2*time.Second), WithRetryPeriod(500*time.Millisecond), withClock(c))
		if err != nil {
			t.Fatal(err)
		}
		g.mu.Lock()
		g.life.started = true
		g.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		g.startedLeading(ctx)
		g.wrote(fakeLease("pod-a", 4, "20"), c.Now())
		d, err := g.Check(context.Background())
		if err != nil || !d.Leader {
			t.Fatalf("Check = %+v, %v; want leader", d, err)
		}
		g.watched(fakeLease("pod-a", 4, "19"), false) // older: ignored
		if d2, err := g.Check(context.Background()); err != nil || !d2.Leader {
			t.Fatalf("after an older Lease: %+v, %v; want still leader", d2, err)
		}
		c.Step(100 * time.Millisecond)
		g.watched(fakeLease(holder, 5, "21"), false)
		if !isClosed(d.Lost) {
			t.Fatalf("holder %q: the term did not end when a newer Lease named it", holder)
		}
		if d3, err := g.Check(context.Background()); err == nil && d3.Leader {
			t.Fatalf("holder %q: Check = %+v, want not leader", holder, d3)
		}
		cancel()
	}
}

// client-go's release decides with the holder it observed before its read:
// after a pause it would clear a Lease that another replica took meanwhile.
// The lock does not write a release of a Lease this replica does not hold.
func TestNoReleaseOfAnotherHoldersLease(t *testing.T) {
	g, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, "pod-a", WithName("app"), WithNamespace("ns"))
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset(fakeLease("pod-b", 5, "30"))
	l := &leaseLock{g: g, client: cs.CoordinationV1().Leases("ns")}
	ctx := context.Background()
	if _, _, err := l.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Update(ctx, rl.LeaderElectionRecord{LeaderTransitions: 5, LeaseDurationSeconds: 1}); err != nil {
		t.Fatalf("release of pod-b's Lease: %v", err)
	}
	got, err := cs.CoordinationV1().Leases("ns").Get(ctx, "app", metav1.GetOptions{})
	if err != nil || holderOf(got) != "pod-b" {
		t.Fatalf("Lease after the release: %v, %v; want pod-b still holding it", got, err)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "update" {
			t.Fatalf("a release was written: %v", a)
		}
	}
}
