package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard/lease"
)

// TestMeasure measures, with the example program as separate processes,
// the graceful hand-off (SIGTERM to the standby's first run, and to its
// "leading" record) and the crash failover (SIGKILL to the same), and, with
// in-process guards, the election requests per replica per minute. It runs
// only when LEADERJOB_MEASURE=1:
//
//	LEADERJOB_MEASURE=1 KUBEBUILDER_ASSETS=$(hack/controlplane.sh) \
//	  go test -v -count=1 -timeout 30m -run Measure ./internal/rig/e2e
//
// LEADERJOB_MEASURE_RUNS sets the runs per scenario (default 7);
// LEADERJOB_MEASURE_TRAFFIC the traffic window (default 1m).
func TestMeasure(t *testing.T) {
	if os.Getenv("LEADERJOB_MEASURE") != "1" {
		t.Skip("a measurement, not a test: set LEADERJOB_MEASURE=1 to run it")
	}
	runs := 7
	if v, err := strconv.Atoi(os.Getenv("LEADERJOB_MEASURE_RUNS")); err == nil && v > 0 {
		runs = v
	}
	window := time.Minute
	if v, err := time.ParseDuration(os.Getenv("LEADERJOB_MEASURE_TRAFFIC")); err == nil && v > 0 {
		window = v
	}
	defaults := timings{15 * time.Second, 10 * time.Second, 2 * time.Second}
	fast := timings{leaseDuration, renewDeadline, retryPeriod}

	var report []string
	for _, s := range []struct {
		name string
		sig  syscall.Signal
		tm   timings
	}{
		{"graceful", syscall.SIGTERM, defaults},
		{"graceful", syscall.SIGTERM, fast},
		{"crash", syscall.SIGKILL, fast},
		{"crash", syscall.SIGKILL, defaults},
	} {
		var toRun, toLead []time.Duration
		for i := range runs {
			r, l := handOver(t, s.name, i, s.sig, s.tm)
			toRun, toLead = append(toRun, r), append(toLead, l)
		}
		report = append(report,
			fmt.Sprintf("%-8s %-12s signal → standby leading:   %s", s.name, s.tm, stats(toLead)),
			fmt.Sprintf("%-8s %-12s signal → standby's 1st run: %s (job every %v)", s.name, s.tm, stats(toRun), jobInterval))
	}
	for _, tm := range []timings{defaults, fast} {
		leader, standby := traffic(t, tm, window)
		report = append(report, fmt.Sprintf("traffic  %-12s requests/minute: leader %.1f, standby %.1f (over %v, 3 replicas)", tm, leader, standby, window))
	}
	for _, l := range report {
		t.Log(l)
	}
}

type timings struct{ lease, renew, retry time.Duration }

func (tm timings) String() string { return fmt.Sprintf("%v/%v/%v", tm.lease, tm.renew, tm.retry) }

func (tm timings) env() []string {
	return []string{
		"LEADERJOB_LEASE_DURATION=" + tm.lease.String(),
		"LEADERJOB_RENEW_DEADLINE=" + tm.renew.String(),
		"LEADERJOB_RETRY_PERIOD=" + tm.retry.String(),
	}
}

// handOver starts two processes, signals the leader and returns how long
// until the standby ran the job and until it logged that it leads.
func handOver(t *testing.T, name string, i int, sig syscall.Signal, tm timings) (toRun, toLead time.Duration) {
	t.Helper()
	c := newCluster(t, fmt.Sprintf("measure-%s-%d", name, i))
	ps := []*proc{startProc(t, c, c.lease+"-a", tm.env()...), startProc(t, c, c.lease+"-b", tm.env()...)}
	old, standbys := leader(t, ps, tm.lease+30*time.Second)
	time.Sleep(tm.retry + time.Second) // the standby has read the Lease since it was last renewed
	at := old.signal(t, sig)
	next, took := firstRunAfter(t, standbys, at, tm.lease+5*tm.retry+5*time.Second)
	for _, r := range next.snapshot() {
		if r.Msg == "leading" && r.Component == "lease" && r.Time.After(at) {
			toLead = r.Time.Sub(at)
			break
		}
	}
	for _, p := range ps {
		p.kill()
	}
	t.Logf("%s %s run %d: leading after %v, first run after %v", name, tm, i+1, toLead, took)
	return took, toLead
}

func stats(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("median %v, min %v, max %v (n=%d)", r(median), r(s[0]), r(s[len(s)-1]), len(s))
}

// traffic runs three in-process guards for window and returns the requests
// per minute of the leader and the mean of the standbys. The guards are
// built as the kube source builds them, with a release (the hand-off
// record). The count covers every request a guard sends (gets, creates,
// updates, and each watch it opens or reopens): the guard's clients are copies of cfg and keep its
// transport wrapper. A watch is reopened every 5–10 minutes, so a window of
// a minute or two may show none.
func traffic(t *testing.T, tm timings, window time.Duration) (leader, standby float64) {
	t.Helper()
	c := cp.Get(t)
	ns, err := c.CreateNamespace(context.Background(), "traffic-")
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]atomic.Int64, 3)
	gs := make([]*lease.Guard, 3)
	for i := range gs {
		cfg := c.Config()
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return counting{rt, &counts[i]} })
		g, err := lease.New(cfg, fmt.Sprintf("traffic-%d", i), lease.WithNamespace(ns), lease.WithName("traffic"),
			lease.WithLeaseDuration(tm.lease), lease.WithRenewDeadline(tm.renew), lease.WithRetryPeriod(tm.retry),
			lease.WithLogger(slog.New(slog.DiscardHandler)), lease.WithRelease("r1")) // as the kube source builds it: with the hand-off record
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer g.Release(context.Background())
		gs[i] = g
	}
	time.Sleep(tm.retry * 3) // past the first election
	before := make([]int64, 3)
	for i := range counts {
		before[i] = counts[i].Load()
	}
	time.Sleep(window)
	n := 0
	for i, g := range gs {
		perMinute := float64(counts[i].Load()-before[i]) / window.Minutes()
		if d, err := g.Check(context.Background()); err == nil && d.Leader {
			leader = perMinute
		} else {
			standby += perMinute
			n++
		}
	}
	return leader, standby / float64(n)
}

type counting struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}
