package leaderjob_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// notifyingGuard reports changes on its own, like the Lease guard: it leads
// while leader is set, with a Lost channel per term.
type notifyingGuard struct {
	mu        sync.Mutex
	leader    bool
	lost      chan struct{}
	listeners []func(guard.Change)
	ready     error
	checks    int
}

func (g *notifyingGuard) Check(ctx context.Context) (guard.Decision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checks++
	if !g.leader {
		return guard.Decision{Holder: "pod-b", Self: "pod-a"}, nil
	}
	return guard.Decision{Leader: true, Holder: "pod-a", Self: "pod-a", Lost: g.lost}, nil
}

func (g *notifyingGuard) OnChange(fn func(guard.Change)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listeners = append(g.listeners, fn)
}

func (g *notifyingGuard) Ready() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ready
}

// set changes leadership; notify says whether the guard reports it (a term
// that ends by going stale closes Lost without a change of holder).
func (g *notifyingGuard) set(leader, notify bool) {
	g.mu.Lock()
	if g.leader && !leader {
		close(g.lost)
	}
	if leader && !g.leader {
		g.lost = make(chan struct{})
	}
	g.leader = leader
	holder := "pod-b"
	if leader {
		holder = "pod-a"
	}
	fns := append([]func(guard.Change){}, g.listeners...)
	g.mu.Unlock()
	if notify {
		for _, fn := range fns {
			fn(guard.Change{Holder: holder, Self: "pod-a"})
		}
	}
}

// leaderjob_is_leader follows the guard, with no run at all: hourly jobs
// must not make the holder report 0 for an hour.
func TestIsLeaderFollowsTheGuardBetweenRuns(t *testing.T) {
	g := &notifyingGuard{}
	_, base, _ := opsApp(t, g, func(app *leaderjob.App) {
		noErr(t, app.Schedule("hourly", leaderjob.Cron("0 0 * * * *"), nop))
	})
	gauge := func() string { return sample(t, base, "leaderjob_is_leader") }
	testutil.Eventually(t, bound, "leaderjob_is_leader 0", func() bool { return gauge() == "0" })

	g.set(true, true)
	testutil.Eventually(t, bound, "leaderjob_is_leader 1", func() bool { return gauge() == "1" })
	g.set(false, false) // the term ends without a change of holder (renewals stopped)
	testutil.Eventually(t, bound, "leaderjob_is_leader 0", func() bool { return gauge() == "0" })
	g.set(true, true)
	testutil.Eventually(t, bound, "leaderjob_is_leader 1", func() bool { return gauge() == "1" })
	g.set(false, true) // another replica took over
	testutil.Eventually(t, bound, "leaderjob_is_leader 0", func() bool { return gauge() == "0" })
	if got := sample(t, base, "leaderjob_runs_total"); got != "" {
		t.Fatalf("runs counted: %s", got)
	}
}

// Probes refresh the state but are not runs' checks: no latency samples.
func TestProbesAreNotCountedAsChecks(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	app, base, _ := opsApp(t, g, func(app *leaderjob.App) {
		noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))
	})
	for range 5 {
		get(t, base+"/readyz")
		get(t, base+"/leader")
	}
	if got := sample(t, base, "leaderjob_guard_check_duration_seconds_count"); got != "0" {
		t.Fatalf("check latency samples after probes only: %s, want 0", got)
	}
	if _, err := app.Trigger(context.Background(), "job"); err != nil {
		t.Fatal(err)
	}
	if got := sample(t, base, "leaderjob_guard_check_duration_seconds_count"); got != "1" {
		t.Fatalf("check latency samples after one run: %s, want 1", got)
	}
	if got := sample(t, base, "leaderjob_is_leader"); got != "1" {
		t.Fatalf("is_leader %s, want 1", got)
	}
}

// A configuration problem (RBAC, a bad name) makes the pod unready with the
// reason, but live: a restart would not fix it.
func TestReadinessReportsConfigurationProblems(t *testing.T) {
	g := &notifyingGuard{}
	_, base, _ := opsApp(t, g, nil)
	g.mu.Lock()
	g.ready = errors.New(`leases.coordination.k8s.io "app" is forbidden: grant get, create, update on leases`)
	g.mu.Unlock()
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "forbidden") {
		t.Fatalf("/readyz = %d %q, want 503 with the reason", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d, want 200", code)
	}
	g.mu.Lock()
	g.ready = nil // fixed by the operator: no restart needed
	g.mu.Unlock()
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after the fix = %d %q", code, body)
	}
}

// A guard given to one job with WithJobGuard is started, asked for health
// and readiness, and released after the drain, like the App's own.
func TestJobGuardsAreStartedAndReleased(t *testing.T) {
	own := guardtest.Leader(guardtest.WithSelf("pod-a"))
	appGuard := guardtest.Follower("pod-b")
	app, base, stop := opsApp(t, appGuard, func(app *leaderjob.App) {
		noErr(t, app.Schedule("own", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop, leaderjob.WithJobGuard(own)))
		noErr(t, app.Schedule("also-own", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop, leaderjob.WithJobGuard(own)))
	})
	if !own.Started() || !appGuard.Started() {
		t.Fatalf("started: job guard %v, app guard %v; want both", own.Started(), appGuard.Started())
	}
	if r, _ := app.Trigger(context.Background(), "own"); r.Outcome != guard.Ran {
		t.Fatalf("job with its own guard: %s (%v)", r.Outcome, r.Err)
	}
	own.SetUnhealthy(errors.New("job guard wedged"))
	if code, body := get(t, base+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "job guard wedged") {
		t.Fatalf("/healthz = %d %q, want the job guard's problem", code, body)
	}
	own.SetUnhealthy(nil)
	noErr(t, stop())
	if !own.Released() || !appGuard.Released() {
		t.Fatalf("released: job guard %v, app guard %v; want both", own.Released(), appGuard.Released())
	}
}

func TestMetricsNameTheAppAndTheJob(t *testing.T) {
	app, base, _ := opsApp(t, guardtest.Leader(guardtest.WithSelf("pod-a")), func(app *leaderjob.App) {
		noErr(t, app.Schedule("nightly", leaderjob.Cron("0 0 2 * * MON-FRI").InZone("UTC"), nop))
		noErr(t, app.Schedule("rate", leaderjob.FixedRate(90*time.Second).WithInitialDelay(time.Hour), nop))
	})
	if _, err := app.Trigger(context.Background(), "rate"); err != nil {
		t.Fatal(err)
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		// nightly batch jobs get buckets of their own, up to ~18h
		`leaderjob_run_duration_seconds_bucket{app_name="test-app",job_name="rate",le="16777.216"} 1`,
		`leaderjob_run_duration_seconds_bucket{app_name="test-app",job_name="rate",le="67108.864"} 1`,
		`leaderjob_info{app_name="test-app",guard="*guardtest.Guard",replica="pod-a"} 1`,
		`leaderjob_job_interval_seconds{app_name="test-app",job_name="nightly"} 259200`, // Friday to Monday
		`leaderjob_job_interval_seconds{app_name="test-app",job_name="rate"} 90`,
		`leaderjob_is_leader{app_name="test-app"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, "leaderjob_") && (!strings.Contains(line, `app_name="test-app"`) ||
			strings.Contains(line, `{job=`) || strings.Contains(line, `,job=`)) {
			t.Errorf("series without app_name or with a job label: %s", line)
		}
	}
}

// A guard that never changes (always) reports its state from the start, not
// from the first run of an hourly job.
func TestIsLeaderFromTheStart(t *testing.T) {
	_, base, _ := opsApp(t, guard.Always, func(app *leaderjob.App) {
		noErr(t, app.Schedule("hourly", leaderjob.Cron("0 0 * * * *"), nop))
	})
	testutil.Eventually(t, bound, "leaderjob_is_leader 1", func() bool { return sample(t, base, "leaderjob_is_leader") == "1" })
}
