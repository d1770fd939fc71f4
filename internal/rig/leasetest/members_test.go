package leasetest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// names lists the names of ms.
func names(ms []guard.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// The membership of spread mode on a real apiserver: replicas see each
// other with their incarnations; one cut off from the apiserver stops
// counting itself a member before the others drop it (RenewDeadline before
// LeaseDuration), and is back once it can write again; one that stops is
// dropped at once, one that dies within LeaseDuration + 2 × RetryPeriod.
func TestMembership(t *testing.T) {
	c := controlPlane(t)
	ns := namespace(t, c)
	rs := make([]*replica, 3)
	for i := range rs {
		rs[i] = memberReplica(t, c.Config(), ns, i)
	}
	start(t, rs...)
	all := []string{"members-0", "members-1", "members-2"}
	sees := func(r *replica, want []string) func() bool {
		return func() bool {
			live, member := r.g.Members().Members()
			return member == slices.Contains(want, r.name) && slices.Equal(names(live), want)
		}
	}
	for _, r := range rs {
		testutil.Eventually(t, 10*time.Second, r.name+" sees all three", sees(r, all))
	}
	live, _ := rs[0].g.Members().Members()
	for i, m := range live {
		if want := fmt.Sprintf("inc-%d", i); m.Incarnation != want {
			t.Errorf("member %s: incarnation %q, want %q", m.Name, m.Incarnation, want)
		}
	}

	// Cut off: it leaves first.
	cut := time.Now()
	rs[2].cut.Store(true)
	testutil.Eventually(t, 10*time.Second, "the cut-off replica stops counting itself", func() bool {
		_, member := rs[2].g.Members().Members()
		return !member
	})
	left := time.Since(cut)
	testutil.Eventually(t, 10*time.Second, "the others drop the cut-off replica", sees(rs[0], all[:2]))
	dropped := time.Since(cut)
	t.Logf("cut off: it stopped counting itself after %v, the others dropped it after %v", left, dropped)
	if left >= dropped || dropped > testLease+3*testRetry+time.Second {
		t.Errorf("cut off: left after %v, dropped after %v: want it to leave first, and the others to drop it within LeaseDuration + 2 × RetryPeriod (%v)", left, dropped, testLease+2*testRetry)
	}
	rs[2].cut.Store(false)
	for _, r := range rs {
		testutil.Eventually(t, 10*time.Second, r.name+" sees the reconnected replica back", sees(r, all))
	}

	// Stopped: dropped at once (its record is removed).
	stop := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rs[1].g.Release(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the others drop the stopped replica", sees(rs[0], []string{"members-0", "members-2"}))
	if took := time.Since(stop); took > 2*testRetry+time.Second {
		t.Errorf("a stopped replica was dropped after %v, want within about a retry period", took)
	}
	changed := rs[0].g.Members().Changed()
	rs[2].cut.Store(true) // as good as dead to the others
	select {
	case <-changed:
	case <-time.After(testLease + 3*testRetry + time.Second):
		t.Error("Changed was not closed when a member was dropped")
	}
}

// memberReplica is a guard named members-<i> on the Lease ns/members with
// the membership on, incarnation inc-<i>, its requests counted and
// cuttable, released when the test ends.
func memberReplica(t *testing.T, cfg *rest.Config, ns string, i int) *replica {
	t.Helper()
	r := &replica{name: fmt.Sprintf("members-%d", i), log: &records{}}
	c := rest.CopyConfig(cfg)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return counter{rt, &r.requests, &r.agents, &r.cut} })
	g, err := lease.New(c, r.name, lease.WithNamespace(ns), lease.WithName("members"),
		lease.WithLeaseDuration(testLease), lease.WithRenewDeadline(testRenew), lease.WithRetryPeriod(testRetry),
		lease.WithLogger(slog.New(r.log)), lease.WithMembership(fmt.Sprintf("inc-%d", i)))
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	t.Cleanup(func() {
		r.cut.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Release(ctx)
		if t.Failed() {
			t.Logf("log of %s:\n%s", r.name, r.log)
		}
	})
	return r
}
