package leasetest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// Test timings: lease 3s, renew deadline 2s, retry 500ms.
const (
	testLease = 3 * time.Second
	testRenew = 2 * time.Second
	testRetry = 500 * time.Millisecond
)

var cp controlplane.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	cp.Stop()
	os.Exit(code)
}

// replica is one in-process guard with its own client, log and request count.
type replica struct {
	name     string
	g        *lease.Guard
	log      *records
	requests atomic.Int64
	agents   sync.Map    // user agents seen
	cut      atomic.Bool // new requests fail, as if the replica had lost its network
}

// newReplicas creates n guards named <prefix>-0.. on the Lease ns/name, each
// with its own client (a copy of cfg that counts requests), and releases
// them when the test ends.
func newReplicas(t *testing.T, cfg *rest.Config, ns, name string, n int, opts ...lease.Option) []*replica {
	t.Helper()
	rs := make([]*replica, n)
	for i := range rs {
		r := &replica{name: fmt.Sprintf("%s-%d", name, i), log: &records{}}
		c := rest.CopyConfig(cfg)
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return counter{rt, &r.requests, &r.agents, &r.cut} })
		all := append([]lease.Option{
			lease.WithNamespace(ns), lease.WithName(name),
			lease.WithLeaseDuration(testLease), lease.WithRenewDeadline(testRenew), lease.WithRetryPeriod(testRetry),
			lease.WithLogger(slog.New(r.log)),
		}, opts...)
		g, err := lease.New(c, r.name, all...)
		if err != nil {
			t.Fatal(err)
		}
		r.g = g
		rs[i] = r
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Release(ctx); err != nil {
				t.Errorf("%s: %v", r.name, err)
			}
			if t.Failed() {
				t.Logf("log of %s:\n%s", r.name, r.log)
			}
		})
	}
	return rs
}

func start(t *testing.T, rs ...*replica) {
	t.Helper()
	for _, r := range rs {
		if err := r.g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// leaderOf waits until exactly one replica says it leads and returns it.
func leaderOf(t *testing.T, rs []*replica, within time.Duration) *replica {
	t.Helper()
	var leader *replica
	testutil.Eventually(t, within, "a leader", func() bool {
		var leaders []*replica
		for _, r := range rs {
			if d, err := r.g.Check(context.Background()); err == nil && d.Leader {
				leaders = append(leaders, r)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("%d replicas lead at once", len(leaders))
		}
		if len(leaders) == 1 {
			leader = leaders[0]
		}
		return leader != nil
	})
	return leader
}

func controlPlane(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	return cp.Get(t)
}

func namespace(t *testing.T, c *controlplane.ControlPlane) string {
	t.Helper()
	ns, err := c.CreateNamespace(context.Background(), "lease-")
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// counter counts the requests a client sends and notes their user agents.
type counter struct {
	rt     http.RoundTripper
	n      *atomic.Int64
	agents *sync.Map
	cut    *atomic.Bool
}

func (c counter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.cut.Load() {
		return nil, errors.New("cut off")
	}
	c.n.Add(1)
	c.agents.Store(r.Header.Get("User-Agent"), true)
	return c.rt.RoundTrip(r)
}

// records is a slog.Handler that keeps records in memory.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

// matching returns the records at level or above whose message and
// attributes contain all of parts.
func (h *records) matching(level slog.Level, parts ...string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level < level {
			continue
		}
		line := format(r)
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func (h *records) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, r := range h.recs {
		b.WriteString(format(r))
		b.WriteByte('\n')
	}
	return b.String()
}

func format(r slog.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	return b.String()
}

// run is one guarded run attempt, as a test records it.
type run struct {
	replica string
	fire    int
	at      time.Time
	outcome guard.Result
}

// journal collects runs from many replicas.
type journal struct {
	mu   sync.Mutex
	runs []run
}

func (j *journal) add(r run) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.runs = append(j.runs, r)
}

func (j *journal) snapshot() []run {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]run(nil), j.runs...)
}

// fire drives a job on every replica every interval, until ctx ends: each
// tick, every replica asks its guard, as scheduled replicas of one job do.
// job is called with the fire number inside the guarded run.
func fire(ctx context.Context, rs []*replica, interval time.Duration, j *journal, job func(ctx context.Context, r *replica, n int) error) *sync.WaitGroup {
	var wg sync.WaitGroup
	begin := time.Now().Truncate(interval).Add(interval)
	for _, r := range rs {
		wg.Go(func() {
			for n := 0; ; n++ {
				at := begin.Add(time.Duration(n) * interval)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				o := guard.Run(ctx, r.g, func(ctx context.Context) error { return job(ctx, r, n) })
				if ctx.Err() == nil {
					j.add(run{replica: r.name, fire: n, at: time.Now(), outcome: o})
				}
			}
		})
	}
	return &wg
}
