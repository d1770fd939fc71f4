package leaderjob_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/internal/spread"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// counted is a job that counts its runs by idempotency key.
type counted struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *counted) job(ctx context.Context) error {
	info, _ := leaderjob.RunInfoFrom(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = map[string]int{}
	}
	c.runs[info.Key]++
	return nil
}

// firstBlocks is a counted job whose first run blocks until release is
// closed (started is closed when it begins).
type firstBlocks struct {
	c                *counted
	started, release chan struct{}
	once             sync.Once
}

func newFirstBlocks(c *counted) *firstBlocks {
	return &firstBlocks{c: c, started: make(chan struct{}), release: make(chan struct{})}
}

func (f *firstBlocks) job(ctx context.Context) error {
	_ = f.c.job(ctx)
	f.once.Do(func() { close(f.started); <-f.release })
	return nil
}

// awaitOnce waits until the fire at offset from t0 of job x has run once,
// and fails the test (describing the fire as what) if it has not within 5s.
func (c *counted) awaitOnce(t *testing.T, job string, offset time.Duration, what string) {
	t.Helper()
	key := t.Name() + "/" + job + "/" + t0.Add(offset).UTC().Format(time.RFC3339Nano)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := c.runs[key]
		c.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s ran %d times, want 1 (caught up)", what, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *counted) once(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, n := range c.runs {
		if n != 1 {
			t.Errorf("fire %s ran %d times", key, n)
		}
	}
}

// noFenced fails the test on a fire of a spread job skipped as fenced, and
// on a ledger whose owner token was raised (a registration in spread mode
// would take every job from its owner). A job with its own guard that says
// "leader" on every replica is claimed by them in turn: its fires are
// fenced now and then, by design.
func noFenced(t *testing.T, l ledger.Ledger, hs ...*leaderjobtest.Harness) {
	t.Helper()
	for _, h := range hs {
		for _, r := range h.Results() {
			if r.Reason == leaderjob.ReasonFenced && r.Job != "own-guard" {
				t.Errorf("%s: %s at +%v fenced: %v", h.App.Identity(), r.Job, r.ScheduledAt.Sub(t0), r.Err)
			}
		}
	}
	s, err := l.Snapshot(context.Background())
	noErr(t, err)
	if s.Owner != 0 {
		t.Errorf("the ledger's owner token is %d: a term registered in spread mode", s.Owner)
	}
}

// In spread mode nothing registers a term: not the catch-up cap (more than
// 100 missed fires), not a claimed job with its own guard. Either would
// fence every other owner's jobs.
func TestSpreadNeverRegisters(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	ctx := context.Background()
	old := t0.Add(-300 * time.Second) // "fast" last ran 300 fires ago: the cap gives most up
	noErr(t, l.Update(ctx, func(s *ledger.State) (bool, error) {
		if r := s.Claim(ledger.Claim{Job: "fast", At: old, ClaimID: "x/0", Holder: "gone", Key: "k", Token: 1}, old); r.Err != nil {
			return false, r.Err
		}
		return true, s.Complete(ledger.Completion{Job: "fast", At: old, ClaimID: "x/0", Holder: "gone", Outcome: "ran", Token: 1})
	}))
	f := newFleet("a", "b")
	var c counted
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	a, b := spreadReplica(t, l, f, "a"), spreadReplica(t, l, f, "b")
	for _, h := range []*leaderjobtest.Harness{a, b} {
		noErr(t, h.App.Schedule("fast", leaderjob.Cron("* * * * * *").InZone("UTC"), c.job, leaderjob.WithCatchUp(leaderjob.CatchUpAll(10*time.Minute))))
		noErr(t, h.App.Schedule("own-guard", every10s, c.job, leaderjob.WithJobGuard(guardtest.Leader()), leaderjob.WithClaim()))
		for i := range 6 {
			noErr(t, h.App.Schedule(fmt.Sprintf("job-%d", i), every10s, c.job))
		}
		h.Start()
	}
	awaitOwned(t, a, -1)
	for range 3 {
		a.Advance(10 * time.Second)
		b.Advance(10 * time.Second)
	}
	noErr(t, a.Stop())
	noErr(t, b.Stop())
	noFenced(t, l, a, b)
	c.once(t)
}

// A replica whose view moves a job away (to a joiner that never adopts it)
// and back while its own run of the job goes on keeps its token: the run's
// completion is recorded, and no later owner runs the fire again.
func TestSpreadRegainKeepsTheRunningToken(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	f := newFleet("a")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	var c counted
	fb := newFirstBlocks(&c)
	slow, started, release := fb.job, fb.started, fb.release
	cu := leaderjob.WithCatchUp(leaderjob.CatchUpAll(10 * time.Minute))
	other := ""
	for _, n := range []string{"c", "d", "e", "f", "g", "h", "i", "j"} {
		if spread.Assign([]spread.Job{{Name: "slow"}}, []string{"a", n})["slow"] == n {
			other = n
			break
		}
	}
	a := spreadReplica(t, l, f, "a")
	noErr(t, a.App.Schedule("slow", every10s, slow, cu))
	a.Hold("slow")
	a.Start()
	awaitOwned(t, a, 1)
	a.Advance(10 * time.Second)
	<-started
	f.set("a", other)
	awaitOwned(t, a, 0)
	f.set("a")
	awaitOwned(t, a, 1)
	close(release)
	a.Advance(0)
	awaitCompleted(t, l, "slow", t0.Add(10*time.Second))
	noErr(t, a.Stop())
	f.set("b")
	b := replica(t, l, t0.Add(15*time.Second), leaderjob.WithIdentity("b"), leaderjob.WithSpread(true), leaderjob.WithMembership(view{f, "b"}))
	noErr(t, b.App.Schedule("slow", every10s, slow, cu))
	b.Start()
	awaitOwned(t, b, 1)
	b.Advance(10 * time.Second)
	noErr(t, b.Stop())
	c.once(t)
}

// Two releases in a rolling update schedule different jobs: a job only one
// of them has is owned among the replicas that have it, so it runs; a job
// both have runs once per fire.
func TestSpreadDifferentJobSets(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	f := newFleet("old", "new")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	var c counted
	older, newer := spreadReplica(t, l, f, "old"), spreadReplica(t, l, f, "new")
	for _, h := range []*leaderjobtest.Harness{older, newer} {
		for i := range 4 {
			noErr(t, h.App.Schedule(fmt.Sprintf("shared-%d", i), every10s, c.job))
		}
	}
	for i := range 4 {
		noErr(t, newer.App.Schedule(fmt.Sprintf("new-only-%d", i), every10s, c.job))
	}
	older.Start()
	newer.Start()
	awaitOwned(t, newer, 8) // the only replica with its jobs
	for range 3 {
		older.Advance(10 * time.Second)
		newer.Advance(10 * time.Second)
	}
	noErr(t, older.Stop())
	noErr(t, newer.Stop())
	c.once(t)
	for i := range 4 {
		ran := 0
		for _, r := range newer.Results() {
			if r.Job == fmt.Sprintf("new-only-%d", i) && r.Outcome == guard.Ran {
				ran++
			}
		}
		if ran != 3 {
			t.Errorf("new-only-%d ran %d times in 30s, want 3", i, ran)
		}
	}
}

// After spread mode is turned off, a replica of the old release may still
// adopt a job (a rolling update): the single leader's claim of it is
// fenced once, then its term registers again, above every job's fence,
// and runs the job. A term that a later one superseded stays fenced
// (TestLaterTermFencesAnEqualEpoch).
func TestSingleLeaderRegistersAgainAfterAnAdoption(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	var c counted
	h := replica(t, l, t0)
	noErr(t, h.App.Schedule("x", every10s, c.job, leaderjob.WithClaim()))
	h.Start()
	h.Advance(10 * time.Second)
	noErr(t, l.Update(context.Background(), func(s *ledger.State) (bool, error) {
		_, err := s.Adopt("x", "spread-pod", time.Time{}, t0.Add(time.Hour), nil)
		return err == nil, err
	}))
	h.Advance(10 * time.Second) // +20s: fenced by the adoption
	h.Advance(10 * time.Second) // +30s: registered again
	noErr(t, h.Stop())
	var got []string
	for _, r := range h.Results() {
		got = append(got, fmt.Sprintf("+%v %s/%s", r.ScheduledAt.Sub(t0), r.Outcome, r.Reason))
	}
	if want := []string{"+10s ran/", "+20s skipped/fenced", "+30s ran/"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fires %v, want %v", got, want)
	}
	c.once(t)
}

// A rolling update that turns spread mode on: while the single leader of
// the old release (no member: spread mode off there) runs a fire, a
// spread replica that owns the job does not start it (already_running):
// the leader's claims hold the job while it holds the Lease.
func TestSpreadWaitsForTheSingleLeadersRun(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	var c counted
	fb := newFirstBlocks(&c)
	slow, started, release := fb.job, fb.started, fb.release
	old := replica(t, l, t0, leaderjob.WithIdentity("old"))
	noErr(t, old.App.Schedule("x", every10s, slow, leaderjob.WithClaim()))
	old.Hold("x")
	old.Start()
	old.Advance(10 * time.Second) // the single leader's run of +10s begins and blocks
	<-started
	f := newFleet("new")
	n := leaderjobtest.New(t, leaderjobtest.WithStartTime(t0), leaderjobtest.WithGuard(guardtest.Follower("old", guardtest.WithSelf("new"))),
		leaderjobtest.WithAppOptions(leaderjob.WithLedger(l), leaderjob.WithVersion("v1"), leaderjob.WithIdentity("new"),
			leaderjob.WithSpread(true), leaderjob.WithMembership(view{f, "new"})))
	noErr(t, n.App.Schedule("x", every10s, slow))
	n.Start()
	awaitOwned(t, n, 1)
	n.Advance(10 * time.Second) // +10s on the new replica
	if r := last(n.Results(), "x"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonAlreadyRunning {
		t.Errorf("the spread replica's fire while the single leader's run goes: %s/%s (%v), want skipped/already_running", r.Outcome, r.Reason, r.Err)
	}
	close(release)
	old.Advance(0)
	awaitCompleted(t, l, "x", t0.Add(10*time.Second))
	noErr(t, old.Stop())
	n.Advance(10 * time.Second) // +20s: runs
	if r := last(n.Results(), "x"); r.Outcome != guard.Ran {
		t.Errorf("the spread replica's fire after the leader's run ended: %s/%s (%v), want ran", r.Outcome, r.Reason, r.Err)
	}
	noErr(t, n.Stop())
	c.once(t)
}

// In spread mode a job with its own guard is not held by the claim its
// previous leader left open when that guard's term ended: the new leader
// of the job runs it.
func TestSpreadOwnGuardJobMovesWithItsGuard(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	f := newFleet("a", "b")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	ga, gb := guardtest.Leader(guardtest.WithSelf("a")), guardtest.Follower("a", guardtest.WithSelf("b"))
	started := make(chan struct{})
	var once sync.Once
	blocking := func(ctx context.Context) error {
		once.Do(func() { close(started) })
		<-ctx.Done() // cut short when a's guard's term ends
		return ctx.Err()
	}
	a, b := spreadReplica(t, l, f, "a"), spreadReplica(t, l, f, "b")
	noErr(t, a.App.Schedule("own", every10s, blocking, leaderjob.WithJobGuard(ga), leaderjob.WithClaim()))
	noErr(t, b.App.Schedule("own", every10s, nop, leaderjob.WithJobGuard(gb), leaderjob.WithClaim()))
	a.Hold("own")
	a.Start()
	b.Start()
	a.Advance(10 * time.Second)
	<-started
	ga.SetFollower("b")
	gb.SetLeader()
	a.Advance(0)
	b.Advance(20 * time.Second)
	if r := last(b.Results(), "own"); r.Outcome != guard.Ran {
		t.Errorf("the job's new leader: %s/%s (%v), want ran", r.Outcome, r.Reason, r.Err)
	}
	noErr(t, a.Stop())
	noErr(t, b.Stop())
}

// A replica that died holding a claim (its record not yet dropped, not
// seen alive lately): the new owner does not start the job (its run may
// still go), but the fires it skips meanwhile stay open, and once the dead
// replica is dropped the new owner catches them up: none is lost.
func TestSpreadDeadHolderLosesNoFire(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	f := newFleet("a")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	cu := leaderjob.WithCatchUp(leaderjob.CatchUpAll(10 * time.Minute))
	var c counted
	fb := newFirstBlocks(&c)
	a := spreadReplica(t, l, f, "a")
	noErr(t, a.App.Schedule("x", every10s, fb.job, cu))
	a.Hold("x")
	a.Start()
	awaitOwned(t, a, 1)
	a.Advance(10 * time.Second) // a's run of +10s begins: then a "dies"
	<-fb.started
	other := ""
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		if spread.Assign([]spread.Job{{Name: "x"}}, []string{"a", n})["x"] == n {
			other = n
			break
		}
	}
	f.set("a", other)
	f.setStale("a")
	b := spreadReplica(t, l, f, other)
	noErr(t, b.App.Schedule("x", every10s, c.job, cu))
	b.Start()
	awaitOwned(t, b, 1)
	b.Advance(20 * time.Second) // +10s, +20s: a may still run x
	for _, r := range b.Results() {
		if r.Outcome == guard.Ran {
			t.Fatalf("%s ran +%v while the dead holder's claim was open", other, r.ScheduledAt.Sub(t0))
		}
	}
	f.set(other) // a is dropped
	awaitOwned(t, b, 1)
	b.Advance(10 * time.Second) // +30s, and the catch-up of +20s (and +10s, run again: at least once)
	c.awaitOnce(t, "x", 20*time.Second, "the fire at +20s, skipped while the dead holder's claim was open,")
	noErr(t, b.Stop())
	close(fb.release)
	a.Advance(0)
	noErr(t, a.Stop())
}
