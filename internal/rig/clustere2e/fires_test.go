package clustere2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// fireJob is the job the tests count: the example's daily report, moved
// to every second by the test overlay (a per-second cron).
const fireJob = "daily-report"

// fireEnv makes the example's report a per-second cron in UTC and parks
// its other jobs but the heartbeat (every 10 s, as shipped).
var fireEnv = map[string]string{
	"LEADERJOB_LOG_LEVEL": "debug", // every attempt, skips too: a lost fire shows why
	"DAILY_REPORT_CRON":   "* * * * * *", "DAILY_REPORT_ZONE": "UTC",
	"EXCHANGE_RATES_RATE": "PT1H", "SESSION_CLEANUP_DELAY": "PT1H", "SESSION_CLEANUP_INITIAL_DELAY": "PT1H",
}

// tally is the count of the per-second fires scheduled in [from, to].
type tally struct {
	from, to time.Time
	fires    int
	lost     []time.Time
	doubled  map[time.Time][]string // fire → pods that ran it
	catchUps int
	skips    map[int64][]string // fire → pod: reason, of the attempts that did not run it
	maxLate  time.Duration      // the latest start of a fire after its scheduled time
	lateAt   time.Time
}

func (t tally) String() string {
	return fmt.Sprintf("%d fires from %s to %s: %d lost, %d doubled, %d run by catch-up, latest run %.2fs after its time (the fire at %s)",
		t.fires, t.from.Format(time.TimeOnly), t.to.Format(time.TimeOnly), len(t.lost), len(t.doubled), t.catchUps,
		t.maxLate.Seconds(), t.lateAt.Format(time.TimeOnly))
}

// catchUpEnv is fireEnv with every missed fire of the last minute caught
// up, so that no fire may be lost.
func catchUpEnv() map[string]string {
	env := map[string]string{"LEADERJOB_CATCH_UP": "all:1m"}
	maps.Copy(env, fireEnv)
	return env
}

// count tallies the runs of fireJob in records by scheduled time.
func count(records []record, from, to time.Time) tally {
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	runs := map[int64][]record{} // by the fire's Unix second
	t := tally{from: from, to: to, doubled: map[time.Time][]string{}, skips: map[int64][]string{}}
	for _, r := range records {
		switch {
		case r.ran(fireJob):
			runs[r.ScheduledAt.Unix()] = append(runs[r.ScheduledAt.Unix()], r)
		case r.Msg == "job run" && r.Job == fireJob:
			t.skips[r.ScheduledAt.Unix()] = append(t.skips[r.ScheduledAt.Unix()],
				fmt.Sprintf("%s: %s %s %s", r.Pod, r.Outcome, r.Reason, r.Error))
		}
	}
	for at := from; !at.After(to); at = at.Add(time.Second) {
		t.fires++
		rs := runs[at.Unix()]
		if len(rs) == 0 {
			t.lost = append(t.lost, at)
			continue
		}
		if len(rs) > 1 {
			for _, r := range rs {
				t.doubled[at] = append(t.doubled[at], fmt.Sprintf("%s(catch_up=%v)", r.Pod, r.CatchUp))
			}
		}
		for _, r := range rs {
			if r.CatchUp {
				t.catchUps++
			}
			if late := r.Time.Sub(r.ScheduledAt); late > t.maxLate {
				t.maxLate, t.lateAt = late, at
			}
		}
	}
	return t
}

// check fails the test on a doubled fire, and on lost fires if none may be.
func (t tally) check(tb testing.TB, lossAllowed bool) {
	tb.Helper()
	tb.Log(t)
	at := make([]time.Time, 0, len(t.doubled))
	for a := range t.doubled {
		at = append(at, a)
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	for _, a := range at {
		tb.Errorf("the fire at %s ran %d times: %s", a.Format(time.TimeOnly), len(t.doubled[a]), strings.Join(t.doubled[a], ", "))
	}
	for _, at := range t.lost {
		tb.Logf("the fire at %s never ran; attempts: %v", at.Format(time.TimeOnly), t.skips[at.Unix()])
	}
	if !lossAllowed && len(t.lost) > 0 {
		tb.Errorf("%d fires never ran", len(t.lost))
	}
}

// holders watches a Lease and records each change of holder.
type holders struct {
	mu      sync.Mutex
	changes []holderChange
}

type holderChange struct {
	at     time.Time
	holder string
}

func watchLease(t *testing.T, ns, name string) *holders {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &holders{}
	w, err := client(t).CoordinationV1().Leases(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			l, ok := ev.Object.(*coordinationv1.Lease)
			if !ok || l.Spec.HolderIdentity == nil {
				continue
			}
			h.mu.Lock()
			if n := len(h.changes); n == 0 || h.changes[n-1].holder != *l.Spec.HolderIdentity {
				h.changes = append(h.changes, holderChange{time.Now(), *l.Spec.HolderIdentity})
			}
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// current returns the holder now ("" if none yet or released).
func (h *holders) current() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.changes) == 0 {
		return ""
	}
	return h.changes[len(h.changes)-1].holder
}

// since returns the holders that took the Lease after t, in order (a
// release, holder "", is not a holder).
func (h *holders) since(t time.Time) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, c := range h.changes {
		if c.at.After(t) && c.holder != "" {
			out = append(out, c.holder)
		}
	}
	return slices.Clip(out)
}

// rateTally counts the runs of a fixed-rate job as a person reading the
// logs would: by scheduled time, a run less than half a period after the
// one before is a double, a gap of more than one and a half periods lost
// the fires inside it.
func rateTally(records []record, job string, period time.Duration, from, to time.Time) (runs, lost int, doubled []string) {
	var at []record
	for _, r := range records {
		if r.ran(job) && !r.ScheduledAt.Before(from) && !r.ScheduledAt.After(to) {
			at = append(at, r)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].ScheduledAt.Before(at[j].ScheduledAt) })
	for i := 1; i < len(at); i++ {
		gap := at[i].ScheduledAt.Sub(at[i-1].ScheduledAt)
		switch {
		case gap < period/2:
			doubled = append(doubled, fmt.Sprintf("%s and %s", describe(at[i-1]), describe(at[i])))
		case gap > period*3/2:
			lost += int((gap+period/2)/period) - 1
		}
	}
	return len(at), lost, doubled
}

// describe names a run: its fire, pod, catch-up flag and end.
func describe(r record) string {
	return fmt.Sprintf("%s on %s (catch_up=%v, key %s, logged %s)", r.ScheduledAt.Format(time.StampMicro), r.Pod, r.CatchUp, r.Key,
		r.Time.Format(time.StampMicro))
}

// rollouts runs kubectl rollout restart once, or LEADERJOB_MEASURE_ROLLOUTS
// times in a row when set, counting each rollout's fires (none may run
// twice; none may be lost unless lossAllowed) and the Lease's transitions
// (exactly one per rollout when onePerRollout: the hand-off to the new
// pod template), and logs the totals. It returns how many rollouts it ran.
func rollouts(t *testing.T, ns string, l *logs, leases *holders, lossAllowed, onePerRollout bool) int {
	t.Helper()
	n := 1
	if v := os.Getenv("LEADERJOB_MEASURE_ROLLOUTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("LEADERJOB_MEASURE_ROLLOUTS=%q: want a positive count", v)
		}
	}
	var fires, lost, doubled, transitions int
	var took, late []time.Duration
	for i := range n {
		if i > 0 {
			time.Sleep(2 * time.Second) // the new pods settle: readiness, the ledger's watch
		}
		began := time.Now()
		kubectl(t, "-n", ns, "rollout", "restart", "deploy/monolith")
		kubectl(t, "-n", ns, "rollout", "status", "deploy/monolith", "--timeout=5m")
		testutil.Eventually(t, 60*time.Second, "the old pods to be gone", func() bool { return len(podsOf(t, ns)) == 3 })
		time.Sleep(3 * time.Second)
		ended := time.Now()
		r := l.count(began, ended.Add(-time.Second))
		holders := leases.since(began)
		t.Logf("rollout restart %d: %.1fs, Lease holders after it began: %v (%d transitions); %s",
			i+1, ended.Sub(began).Seconds(), holders, len(holders), r)
		r.check(t, lossAllowed)
		if onePerRollout && len(holders) != 1 {
			t.Errorf("rollout restart %d moved leadership %d times (%v), want once, onto a new pod", i+1, len(holders), holders)
		}
		fires, lost, doubled, transitions = fires+r.fires, lost+len(r.lost), doubled+len(r.doubled), transitions+len(holders)
		took, late = append(took, ended.Sub(began)), append(late, r.maxLate)
	}
	slices.Sort(took)
	slices.Sort(late)
	t.Logf("%d rollout restarts of 3 replicas: %d transitions, %d fires, %d lost, %d doubled; rollout %.1f–%.1fs, latest run %.2f–%.2fs after its time",
		n, transitions, fires, lost, doubled, took[0].Seconds(), took[n-1].Seconds(), late[0].Seconds(), late[n-1].Seconds())
	return n
}

// count tallies the fires scheduled from from to to, once the logs hold a
// run of a later fire (at most 10 s): the records of the fires counted have
// arrived, so a late line is not taken for a lost fire.
func (l *logs) count(from, to time.Time) tally {
	testutil.Until(10*time.Second, func() bool {
		return len(l.find(func(r record) bool { return r.ran(fireJob) && r.ScheduledAt.After(to) })) > 0
	})
	return count(l.snapshot(), from, to)
}
