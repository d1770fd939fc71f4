package leasetest_test

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// releaseReplica returns a replica of release on the Lease ns/name,
// started, and released when the test ends.
func releaseReplica(t *testing.T, cfg *rest.Config, ns, name, id, release string) *replica {
	t.Helper()
	r := &replica{name: id, log: &records{}}
	g, err := lease.New(cfg, id, lease.WithNamespace(ns), lease.WithName(name),
		lease.WithLeaseDuration(testLease), lease.WithRenewDeadline(testRenew), lease.WithRetryPeriod(testRetry),
		lease.WithLogger(slog.New(r.log)), lease.WithRelease(release))
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Release(ctx)
		if t.Failed() {
			t.Logf("log of %s:\n%s", id, r.log)
		}
	})
	start(t, r)
	return r
}

// waitCandidates waits until the candidates Lease records every id.
func waitCandidates(t *testing.T, cfg *rest.Config, ns, name string, ids ...string) {
	t.Helper()
	cs := clientset(t, cfg)
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%v recorded as candidates", ids), func() bool {
		l, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), name+lease.CandidatesSuffix, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, id := range ids {
			if _, ok := l.Annotations[lease.CandidateAnnotationPrefix+id]; !ok {
				return false
			}
		}
		return true
	})
}

func transitions(t *testing.T, cfg *rest.Config, ns, name string) (int32, string) {
	t.Helper()
	l, err := clientset(t, cfg).CoordinationV1().Leases(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return *l.Spec.LeaseTransitions, holder
}

// A leader that releases the Lease hands it to the replica of the other
// release, not to the standby of its own, however fast that standby is:
// one leader change, onto the new release. The same holds the other way
// round (a roll back: releases are compared only for equality).
func TestReleaseHandsToTheOtherRelease(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	for _, tc := range []struct{ name, from, to string }{{"upgrade", "v1", "v2"}, {"rollback", "v2", "v1"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := namespace(t, c)
			old := releaseReplica(t, c.Config(), ns, "rollout", "old-0", tc.from)
			leaderOf(t, []*replica{old}, 10*time.Second)
			same := releaseReplica(t, c.Config(), ns, "rollout", "old-1", tc.from)
			next := releaseReplica(t, c.Config(), ns, "rollout", "new-0", tc.to)
			waitCandidates(t, c.Config(), ns, "rollout", "old-1", "new-0")
			time.Sleep(time.Second) // the standbys' watches settle
			before, _ := transitions(t, c.Config(), ns, "rollout")
			released := time.Now()
			if err := old.g.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			leader := leaderOf(t, []*replica{same, next}, 5*time.Second)
			took := time.Since(released)
			after, holder := transitions(t, c.Config(), ns, "rollout")
			t.Logf("%s → %s: handed to %s in %v; transitions %d → %d", tc.from, tc.to, leader.name, took, before, after)
			if leader != next || holder != "new-0" {
				t.Errorf("the Lease went to %s (holder %q), want new-0 of release %s", leader.name, holder, tc.to)
			}
			if after != before+1 {
				t.Errorf("transitions %d → %d, want one", before, after)
			}
			if took > time.Second {
				t.Errorf("the hand-off took %v, want it as fast as without the rule (under 1s)", took)
			}
			if got := old.log.matching(slog.LevelInfo, "handing the Lease", "new-0"); len(got) != 1 {
				t.Errorf("the leader logged %q, want one hand-off record naming new-0", got)
			}
		})
	}
}

// A rollout paused half-way: old and new replicas side by side. The old
// leader, deleted, hands to a new one; that one, deleted in turn, hands
// back to the remaining old one (releases are compared only for
// equality), each time one change.
func TestPausedRolloutHandsAcrossReleases(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	old := releaseReplica(t, c.Config(), ns, "paused", "old-0", "v1")
	leaderOf(t, []*replica{old}, 10*time.Second)
	old1 := releaseReplica(t, c.Config(), ns, "paused", "old-1", "v1")
	new0 := releaseReplica(t, c.Config(), ns, "paused", "new-0", "v2")
	waitCandidates(t, c.Config(), ns, "paused", "old-1", "new-0")
	time.Sleep(time.Second)
	if err := old.g.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := leaderOf(t, []*replica{old1, new0}, 5*time.Second); l != new0 {
		t.Fatalf("the old leader handed to %s, want new-0", l.name)
	}
	time.Sleep(time.Second)
	if err := new0.g.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l := leaderOf(t, []*replica{old1}, 5*time.Second); l != old1 {
		t.Fatalf("the new leader handed to %s, want old-1", l.name)
	}
	if n, _ := transitions(t, c.Config(), ns, "paused"); n != 2 {
		t.Errorf("%d transitions, want 2", n)
	}
}

// A successor that died since its last record (here: a record of a
// replica that does not run) does not keep the Lease empty: the other
// replicas leave it alone for one RetryPeriod, then take it.
func TestDeadSuccessorDelaysTheHandOffByOneRetryPeriod(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	old := releaseReplica(t, c.Config(), ns, "rollout", "old-0", "v1")
	leaderOf(t, []*replica{old}, 10*time.Second)
	standby := releaseReplica(t, c.Config(), ns, "rollout", "old-1", "v1")
	waitCandidates(t, c.Config(), ns, "rollout", "old-0", "old-1")
	cs := clientset(t, c.Config())
	testutil.EventuallyNoError(t, 5*time.Second, "a ghost of release v2 recorded", func() error {
		l, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), "rollout"+lease.CandidatesSuffix, metav1.GetOptions{})
		if err != nil {
			return err
		}
		l.Annotations[lease.CandidateAnnotationPrefix+"ghost"] = strconv.FormatInt(time.Now().UnixMilli(), 10) + " v2"
		_, err = cs.CoordinationV1().Leases(ns).Update(context.Background(), l, metav1.UpdateOptions{})
		return err
	})
	time.Sleep(time.Second)
	released := time.Now()
	if err := old.g.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := cs.CoordinationV1().Leases(ns).Get(context.Background(), "rollout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Annotations[lease.SuccessorAnnotation]; got != "ghost" && holderName(l) != "old-1" {
		t.Fatalf("the released Lease names %q as successor, want ghost", got)
	}
	leaderOf(t, []*replica{standby}, 5*time.Second)
	took := time.Since(released)
	t.Logf("with a dead successor named, old-1 took the Lease after %v (retry period %v)", took, testRetry)
	if took < testRetry || took > testRetry*12/10+time.Second {
		t.Errorf("old-1 took the Lease after %v, want one retry period (%v) to about 1.2 of it", took, testRetry)
	}
	if l, _ := cs.CoordinationV1().Leases(ns).Get(context.Background(), "rollout", metav1.GetOptions{}); l.Annotations[lease.SuccessorAnnotation] != "" {
		t.Errorf("the Lease still names a successor after it was taken: %v", l.Annotations)
	}
}

// A single replica, or a fleet of one release, releases as without the
// rule: no successor is named and the standby takes the Lease at once.
func TestNoOtherReleaseNoSuccessor(t *testing.T) {
	t.Parallel()
	c := controlPlane(t)
	ns := namespace(t, c)
	old := releaseReplica(t, c.Config(), ns, "rollout", "a", "v1")
	leaderOf(t, []*replica{old}, 10*time.Second)
	standby := releaseReplica(t, c.Config(), ns, "rollout", "b", "v1")
	waitCandidates(t, c.Config(), ns, "rollout", "a", "b")
	time.Sleep(time.Second)
	released := time.Now()
	if err := old.g.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	leaderOf(t, []*replica{standby}, 5*time.Second)
	if took := time.Since(released); took > time.Second {
		t.Errorf("the standby of the same release took %v, want under 1s", took)
	}
}

func holderName(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func clientset(t *testing.T, cfg *rest.Config) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
