package leasetest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// Three replicas, a job every second for 31 seconds: every fire runs exactly
// once, always on the replica the Lease names.
func TestSteadyStateRunsEachFireOnceOnTheHolder(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	rs := newReplicas(t, c.Config(), ns, "steady", 3)
	start(t, rs...)
	leaderOf(t, rs, 10*time.Second)

	admin, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	const fires = 31
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var j journal
	var wrong sync.Map // fire -> error
	began := time.Now()
	wg := fire(ctx, rs, time.Second, &j, func(ctx context.Context, r *replica, n int) error {
		l, err := admin.CoordinationV1().Leases(ns).Get(ctx, "steady", metav1.GetOptions{})
		switch {
		case err != nil:
			wrong.Store(n, err)
		case l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != r.name:
			wrong.Store(n, fmt.Errorf("%s ran fire %d but the Lease names %v", r.name, n, l.Spec.HolderIdentity))
		}
		return nil
	})
	testutil.Until((fires+5)*time.Second-time.Since(began), func() bool { return len(ranPerFire(j.snapshot())) >= fires })
	cancel()
	wg.Wait()
	elapsed := time.Since(began)

	perFire := ranPerFire(j.snapshot())
	if len(perFire) < fires {
		t.Fatalf("%d fires ran, want at least %d", len(perFire), fires)
	}
	for n := range fires {
		if got := perFire[n]; len(got) != 1 {
			t.Errorf("fire %d ran on %v, want exactly one replica", n, got)
		}
	}
	wrong.Range(func(k, v any) bool { t.Errorf("fire %v: %v", k, v); return true })
	for _, r := range rs {
		t.Logf("%s: %.1f requests/minute", r.name, float64(r.requests.Load())/elapsed.Minutes())
		r.agents.Range(func(ua, _ any) bool {
			if ua != "leaderjob/steady" {
				t.Errorf("%s sent a request with user agent %q, want leaderjob/steady", r.name, ua)
			}
			return true
		})
	}
}

// ranPerFire maps each fire number to the replicas that ran it.
func ranPerFire(runs []run) map[int][]string {
	m := map[int][]string{}
	for _, r := range runs {
		if r.outcome.Outcome == guard.Ran {
			m[r.fire] = append(m[r.fire], r.replica)
		}
	}
	return m
}

// Release hands the Lease to a standby at once (it watches the Lease),
// closes the released term's Lost channel, and bumps the epoch.
func TestReleaseHandsOverWithinMilliseconds(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	rs := newReplicas(t, c.Config(), ns, "handoff", 3)
	changes := map[*replica]chan guard.Change{}
	for _, r := range rs {
		ch := make(chan guard.Change, 100)
		changes[r] = ch
		r.g.OnChange(func(c guard.Change) { ch <- c })
	}
	start(t, rs...)
	old := leaderOf(t, rs, 10*time.Second)
	d, err := old.g.Check(context.Background())
	if err != nil || !d.Leader || d.Lost == nil || !d.HasEpoch {
		t.Fatalf("leader's decision = %+v, %v", d, err)
	}
	time.Sleep(time.Second) // let every standby's watch settle

	released := time.Now()
	if err := old.g.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.Lost:
	default:
		t.Error("Release returned but the leader's Lost channel is open")
	}
	if _, err := old.g.Check(context.Background()); !errors.Is(err, guard.ErrReleased) || guard.ReasonOf(err) != guard.ReasonReleased {
		t.Errorf("Check after Release = %v, want ErrReleased", err)
	}
	rest := slices.DeleteFunc(slices.Clone(rs), func(r *replica) bool { return r == old })
	next := leaderOf(t, rest, 5*time.Second)
	took := time.Since(released)
	t.Logf("hand-off from %s to %s took %v (release included)", old.name, next.name, took)
	if took > time.Second {
		t.Errorf("hand-off took %v, want under 1s", took)
	}
	nd, _ := next.g.Check(context.Background())
	if nd.Epoch != d.Epoch+1 {
		t.Errorf("epoch after hand-off = %d, want %d", nd.Epoch, d.Epoch+1)
	}
	// A third replica saw the release (holder "") and the new holder.
	observer := rest[0]
	if observer == next {
		observer = rest[1]
	}
	var seen []string
	timeout := time.After(2 * time.Second)
	for !slices.Contains(seen, next.name) {
		select {
		case ch := <-changes[observer]:
			seen = append(seen, ch.Holder)
			if !ch.HasEpoch {
				t.Errorf("change without epoch: %+v", ch)
			}
		case <-timeout:
			t.Fatalf("changes seen by %s: %q, want the new holder %s", observer.name, seen, next.name)
		}
	}
}

// While the leader renews and their watch is up, standbys send nothing; when
// the leader's renewals stop (it lost its network: a crash, as far as the
// others can tell), a standby takes over within LeaseDuration plus about
// two retry periods.
func TestStandbysWatchAndTakeOverWhenRenewalsStop(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	rs := newReplicas(t, c.Config(), ns, "quiet", 3)
	start(t, rs...)
	old := leaderOf(t, rs, 10*time.Second)
	standbys := slices.DeleteFunc(slices.Clone(rs), func(r *replica) bool { return r == old })
	time.Sleep(2 * testRetry) // the standbys have parked
	before := map[*replica]int64{}
	for _, r := range rs {
		before[r] = r.requests.Load()
	}
	const window = 5 * time.Second
	time.Sleep(window)
	for _, r := range standbys {
		// At the retry tick (500ms–1.1s) it would be 5 or more; a renewal
		// that comes late (a slow machine) costs one read.
		if n := r.requests.Load() - before[r]; n > 2 {
			t.Errorf("standby %s sent %d requests in %v while the leader renewed", r.name, n, window)
		} else {
			t.Logf("standby %s sent %d requests in %v", r.name, n, window)
		}
	}
	if n := old.requests.Load() - before[old]; n < int64(window/testRetry)-2 {
		t.Errorf("the leader sent %d requests in %v, want one renewal per %v", n, window, testRetry)
	}

	old.cut.Store(true)
	cut := time.Now()
	next := leaderOf(t, standbys, testLease+5*time.Second)
	took := time.Since(cut)
	t.Logf("%s took over %v after %s's requests stopped", next.name, took.Round(time.Millisecond), old.name)
	if limit := testLease + 2200*time.Millisecond*testRetry/time.Second + 300*time.Millisecond; took > limit {
		t.Errorf("take-over took %v, want at most %v (LeaseDuration + 2.2 × RetryPeriod + 300ms)", took, limit)
	}
	if d, err := old.g.Check(context.Background()); err == nil && d.Leader {
		t.Error("the cut-off leader still says it leads")
	}
	old.cut.Store(false)
}

// Without any permission the guard does not become a silent follower: Check
// says forbidden, and the log names the missing rule, once per log period.
func TestForbiddenIsReportedClearly(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	cfg, err := c.User("no-rbac")
	if err != nil {
		t.Fatal(err)
	}
	rs := newReplicas(t, cfg, ns, "forbidden", 1)
	start(t, rs...)
	time.Sleep(3 * time.Second) // about six attempts at the 500ms retry period

	_, err = rs[0].g.Check(context.Background())
	var access *lease.AccessError
	if !errors.Is(err, guard.ErrForbidden) || !errors.As(err, &access) || guard.ReasonOf(err) != guard.ReasonForbidden {
		t.Fatalf("Check = %v, want an *AccessError wrapping guard.ErrForbidden", err)
	}
	o := guard.Run(context.Background(), rs[0].g, func(context.Context) error { t.Error("the job ran"); return nil })
	if o.Outcome != guard.Skipped || o.Reason != guard.ReasonForbidden {
		t.Errorf("run outcome = %s/%s, want skipped/forbidden", o.Outcome, o.Reason)
	}
	logged := rs[0].log.matching(slog.LevelWarn, `leases.coordination.k8s.io "forbidden" is forbidden`, `User "no-rbac"`,
		"grant get, create, update and watch on leases", "namespace "+ns, "examples/kubernetes/lease/rbac.yaml")
	if len(logged) != 1 {
		t.Errorf("the access error was logged %d times in 3s, want exactly once (rate-limited); log:\n%s", len(logged), rs[0].log)
	} else {
		t.Log(logged[0])
	}
}

// A forbidden guard is not ready, stays healthy, retries once per error log
// period instead of every retry tick, and leads soon after the Role is
// granted, without a restart.
func TestGrantingTheRoleHealsAForbiddenGuard(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	cfg, err := c.User("late-rbac")
	if err != nil {
		t.Fatal(err)
	}
	const period = 3 * time.Second
	rs := newReplicas(t, cfg, ns, "late", 1, lease.WithRetryPeriod(200*time.Millisecond), lease.WithErrorLogPeriod(period))
	r := rs[0]
	started := time.Now()
	start(t, r)
	testutil.Eventually(t, 5*time.Second, "the forbidden guard not ready", func() bool { return r.g.Ready() != nil })
	if err := r.g.Ready(); !errors.Is(err, guard.ErrForbidden) || !strings.Contains(err.Error(), "grant get, create, update and watch on leases") {
		t.Errorf("Ready = %v, want the forbidden error and the fix", err)
	}
	before := r.requests.Load()
	time.Sleep(2 * period)
	if err := r.g.Healthy(); err != nil {
		t.Errorf("Healthy = %v, want nil: a restart would not help", err)
	}
	// Every 200ms–440ms at the retry tick would be 30 requests or more.
	if n := r.requests.Load() - before; n > 6 {
		t.Errorf("%d requests in %v while forbidden, want at most 6 (one get and one watch per error log period)", n, 2*period)
	}

	admin, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "lease"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"},
			Verbs: []string{"get", "create", "update", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "lease"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "lease"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "late-rbac"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	granted := time.Now()
	leaderOf(t, rs, period+2*time.Second)
	t.Logf("leading %v after the Role was granted (error log period %v)", time.Since(granted).Round(time.Millisecond), period)
	if err := r.g.Ready(); err != nil {
		t.Errorf("Ready after the grant = %v, want nil", err)
	}
	warned := r.log.matching(slog.LevelWarn, "lease request failed", "is forbidden")
	if limit := int(time.Since(started)/period) + 1; len(warned) > limit {
		t.Errorf("the refusal was logged %d times, want at most %d (once per %v)", len(warned), limit, period)
	}
	for _, l := range r.log.matching(slog.LevelError) {
		t.Errorf("error record: %s", l)
	}
}

// A missing namespace is an access error that names the namespace and the
// option to change.
func TestMissingNamespaceIsReportedClearly(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	rs := newReplicas(t, c.Config(), "no-such-namespace", "orphan", 1)
	start(t, rs...)
	testutil.EventuallyNoError(t, 5*time.Second, "an access error", func() error {
		if _, err := rs[0].g.Check(context.Background()); !errors.Is(err, guard.ErrForbidden) {
			return fmt.Errorf("Check = %v", err)
		}
		return nil
	})
	for _, want := range []string{`namespaces "no-such-namespace" not found`, "WithNamespace"} {
		if len(rs[0].log.matching(slog.LevelWarn, want)) == 0 {
			t.Errorf("no error log mentions %q; log:\n%s", want, rs[0].log)
		}
	}
}

// The apiserver stops for 10s: the leader stops running jobs within the
// renew deadline of its last renewal, reports itself unhealthy once the
// lease is overdue, and after the restart exactly one replica runs jobs.
// Not parallel: it takes the shared apiserver down.
func TestAPIServerOutage(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	rs := newReplicas(t, c.Config(), ns, "outage", 3, lease.WithHealthTolerance(time.Second))
	start(t, rs...)
	old := leaderOf(t, rs, 10*time.Second)
	d, _ := old.g.Check(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var j journal
	wg := fire(ctx, rs, 200*time.Millisecond, &j, func(context.Context, *replica, int) error { return nil })
	time.Sleep(time.Second)

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	unhealthy := false
	for time.Since(stopped) < 10*time.Second {
		unhealthy = unhealthy || old.g.Healthy() != nil
		time.Sleep(100 * time.Millisecond)
	}
	restarting := time.Now()
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	t.Logf("apiserver down for %v (%v of them starting)", restarted.Sub(stopped), restarted.Sub(restarting))

	// Runs resume; a leader that re-acquires may lose the Lease again while
	// the restarted apiserver is slow, so judge the steady state from the
	// last seconds.
	testutil.Until(20*time.Second, func() bool { return !lastRan(j.snapshot()).Before(restarted) })
	t.Logf("runs resumed %v after the restart", time.Since(restarted))
	time.Sleep(testLease + 3*time.Second)
	settled := time.Now().Add(-3 * time.Second)
	cancel()
	wg.Wait()
	runs := j.snapshot()

	select {
	case <-d.Lost:
	default:
		t.Error("the old leader's Lost channel is still open")
	}
	if !unhealthy {
		t.Error("the leader never reported itself unhealthy during the outage")
	}
	limit := stopped.Add(testRenew + 300*time.Millisecond)
	var staleSkips int
	for _, r := range runs {
		if r.at.After(stopped) && r.at.Before(restarting) {
			if r.outcome.Outcome == guard.Ran && r.at.After(limit) {
				t.Errorf("%s ran fire %d at +%v after the apiserver stopped", r.replica, r.fire, r.at.Sub(stopped))
			}
			if r.replica == old.name && r.outcome.Reason == guard.ReasonStale {
				staleSkips++
			}
		}
	}
	if staleSkips == 0 {
		t.Error("the old leader never skipped with reason stale during the outage")
	}
	for n, who := range ranPerFire(runs) {
		if len(who) > 1 {
			t.Errorf("fire %d ran on %v", n, who)
		}
	}
	fires, leaders := 0, map[string]bool{}
	for _, r := range runs {
		if r.outcome.Outcome == guard.Ran && r.at.After(settled) {
			fires++
			leaders[r.replica] = true
		}
	}
	if len(leaders) != 1 || fires < 10 {
		t.Errorf("in the last 3s, %d fires ran on %v, want ≥10 fires on exactly one replica", fires, leaders)
	}
}

func lastRan(runs []run) time.Time {
	var last time.Time
	for _, r := range runs {
		if r.outcome.Outcome == guard.Ran && r.at.After(last) {
			last = r.at
		}
	}
	return last
}

// Release stops every goroutine the guard started.
func TestReleaseLeavesNoGoroutines(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("golang.org/x/net/http2.(*ClientConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*http2ClientConn).readLoop"),
	)
	rs := newReplicas(t, c.Config(), ns, "leak", 2)
	start(t, rs...)
	leaderOf(t, rs, 10*time.Second)
	for _, r := range rs {
		if err := r.g.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// A listener that asks Check on every change sees the term: client-go starts
// it a moment after the acquiring write is seen, and the guard notifies
// again when it opens, so one of the Checks answers "leader" without any
// other call to Check (as an App's leader gauge needs between hourly runs).
func TestChangeListenersSeeTheTermOpen(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	rs := newReplicas(t, c.Config(), ns, "notify", 1)
	g := rs[0].g
	type answer struct {
		change guard.Change
		leader bool
	}
	answers := make(chan answer, 100)
	g.OnChange(func(ch guard.Change) {
		d, err := g.Check(context.Background())
		answers <- answer{ch, err == nil && d.Leader}
	})
	start(t, rs...)
	var seen []answer
	deadline := time.After(10 * time.Second)
	for {
		select {
		case a := <-answers:
			seen = append(seen, a)
			if a.leader {
				if a.change.Holder != rs[0].name || !a.change.HasEpoch {
					t.Errorf("the change that opened the term: %+v", a.change)
				}
				return
			}
		case <-deadline:
			t.Fatalf("no change after which Check answered leader; seen %+v", seen)
		}
	}
}
