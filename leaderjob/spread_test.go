package leaderjob_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// fleet is a membership the test sets by hand.
type fleet struct {
	mu      sync.Mutex
	live    []guard.Member
	changed chan struct{}
	tags    map[string]string // member → the tag it published (SetTag)
	stale   map[string]bool   // members not seen alive lately (dead, not yet dropped)
}

// setStale marks name as not seen alive lately.
func (f *fleet) setStale(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stale == nil {
		f.stale = map[string]bool{}
	}
	f.stale[name] = true
	close(f.changed)
	f.changed = make(chan struct{})
}

func newFleet(names ...string) *fleet {
	f := &fleet{changed: make(chan struct{})}
	f.set(names...)
	return f
}

func (f *fleet) set(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = nil
	for _, n := range names {
		f.live = append(f.live, guard.Member{Name: n})
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// view is one replica's view of the fleet.
type view struct {
	f    *fleet
	self string
}

func (v view) Members() ([]guard.Member, bool) {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	live := slices.Clone(v.live())
	for i := range live {
		live[i].Tag, live[i].Fresh = v.f.tags[live[i].Name], !v.f.stale[live[i].Name]
	}
	return live, slices.ContainsFunc(v.f.live, func(m guard.Member) bool { return m.Name == v.self })
}

// SetTag publishes what v's replica shares out.
func (v view) SetTag(tag string) {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	if v.f.tags == nil {
		v.f.tags = map[string]string{}
	}
	v.f.tags[v.self] = tag
}

func (v view) live() []guard.Member { return v.f.live }

func (v view) Changed() <-chan struct{} {
	v.f.mu.Lock()
	defer v.f.mu.Unlock()
	return v.f.changed
}

func spreadReplica(t *testing.T, l ledger.Ledger, f *fleet, name string) *leaderjobtest.Harness {
	t.Helper()
	return replica(t, l, t0, leaderjob.WithIdentity(name), leaderjob.WithSpread(true), leaderjob.WithMembership(view{f, name}))
}

// awaitOwned waits until h's replica owns n jobs, as its /jobs says (any
// number when n < 0).
func awaitOwned(t *testing.T, h *leaderjobtest.Harness, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		owned := 0
		for _, j := range h.App.Status(context.Background()).Jobs {
			if j.Owner == h.App.Identity() {
				owned++
			}
		}
		if owned == n || n < 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s owns %d jobs, want %d", h.App.Identity(), owned, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Spread mode: two replicas share six jobs, within the bound; every fire runs
// on one of them, and a fire of a job owned elsewhere is skipped as
// not_owner. When one leaves, the other owns and runs every job.
func TestSpreadSharesTheJobs(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	f := newFleet("a", "b")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	var mu sync.Mutex
	runs := map[string]int{} // job@fire → runs
	job := func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		mu.Lock()
		runs[info.Key]++
		mu.Unlock()
		return nil
	}
	hs := map[string]*leaderjobtest.Harness{"a": spreadReplica(t, l, f, "a"), "b": spreadReplica(t, l, f, "b")}
	for _, h := range hs {
		for i := range 6 {
			noErr(t, h.App.Schedule(fmt.Sprintf("job-%d", i), every10s, job))
		}
		h.Start()
	}
	// One ledger object: its six jobs split four and two (the bound
	// max(⌈6/2⌉, ⌊1.5·6/2⌋) = 4).
	share := map[string]int{}
	deadline := time.Now().Add(5 * time.Second)
	for share["a"]+share["b"] != 6 || share["a"] > 4 || share["b"] > 4 {
		if time.Now().After(deadline) {
			t.Fatalf("shares %v, want 6 jobs, at most 4 each", share)
		}
		time.Sleep(5 * time.Millisecond)
		share = map[string]int{}
		for name, h := range hs {
			for _, j := range h.App.Status(context.Background()).Jobs {
				if j.Owner == name {
					share[name]++
				}
			}
		}
	}
	for range 3 {
		for _, h := range hs {
			h.Advance(10 * time.Second)
		}
	}
	f.set("a") // b leaves
	awaitOwned(t, hs["a"], 6)
	for range 2 {
		for _, h := range hs {
			h.Advance(10 * time.Second)
		}
	}
	for _, h := range hs {
		noErr(t, h.Stop())
	}
	for key, n := range runs {
		if n != 1 {
			t.Errorf("fire %s ran %d times", key, n)
		}
	}
	if want := 6 * 5; len(runs) != want {
		t.Errorf("%d fires ran, want %d (6 jobs × 5 fires)", len(runs), want)
	}
	ranOn := map[string]int{}
	for name, h := range hs {
		for _, r := range h.Results() {
			switch {
			case r.Outcome == guard.Ran:
				ranOn[name]++
			case r.Reason != leaderjob.ReasonNotOwner && !(name == "b" && r.Reason == guard.ReasonUnavailable):
				t.Errorf("%s: %s at +%v: %s/%s (%v), want ran or skipped as not_owner", name, r.Job, r.ScheduledAt.Sub(t0), r.Outcome, r.Reason, r.Err)
			}
		}
	}
	if ranOn["a"] != share["a"]*3+6*2 || ranOn["b"] != share["b"]*3 {
		t.Errorf("runs per replica %v, want a %d (its %d jobs × 3 fires, then 6 × 2) and b %d", ranOn, share["a"]*3+6*2, share["a"], share["b"]*3)
	}
}

// A new owner does not start a fire while the previous owner's run of the
// job goes on (the previous owner is live): that fire is skipped as
// already_running and stays handled; the first fire after the run ended
// runs on the new owner, and no fire runs twice.
func TestSpreadNewOwnerWaitsForTheRunningOne(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	f := newFleet("a")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	runs := map[string]int{}
	job := func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		mu.Lock()
		runs[info.Key]++
		mu.Unlock()
		once.Do(func() { close(started); <-release })
		return nil
	}
	a := spreadReplica(t, l, f, "a")
	noErr(t, a.App.Schedule("slow", every10s, job))
	a.Hold("slow")
	a.Start()
	awaitOwned(t, a, 1)
	a.Advance(10 * time.Second) // a's run of +10s begins and blocks
	<-started
	// A joiner that the job's ranking prefers: it becomes the owner while
	// a, still live, runs the job.
	var b *leaderjobtest.Harness
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		h := spreadReplica(t, l, f, name)
		noErr(t, h.App.Schedule("slow", every10s, job))
		h.Start()
		f.set("a", name)
		awaitOwned(t, a, -1)
		if owner := ownerOf(t, a, "slow", "a", name); owner == name {
			b = h
			break
		}
		noErr(t, h.Stop())
	}
	if b == nil {
		t.Fatal("no joiner ranks first for the job")
	}
	awaitOwned(t, b, 1)
	b.Advance(20 * time.Second) // +10s (before b's first ownership), +20s: a's run still goes
	if r := last(b.Results(), "slow"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonAlreadyRunning {
		t.Fatalf("the new owner's fire while the old owner's run goes: %s/%s (%v), want skipped/already_running", r.Outcome, r.Reason, r.Err)
	}
	close(release)
	a.Advance(0)
	awaitCompleted(t, l, "slow", t0.Add(10*time.Second))
	b.Advance(10 * time.Second) // +30s
	if r := last(b.Results(), "slow"); r.Outcome != guard.Ran {
		t.Errorf("the new owner's first fire after the old run ended: %s/%s (%v), want ran", r.Outcome, r.Reason, r.Err)
	}
	noErr(t, a.Stop())
	noErr(t, b.Stop())
	for key, n := range runs {
		if n != 1 {
			t.Errorf("fire %s ran %d times", key, n)
		}
	}
	if _, ok := runs["TestSpreadNewOwnerWaitsForTheRunningOne/slow/"+t0.Add(20*time.Second).UTC().Format(time.RFC3339Nano)]; ok {
		t.Error("the fire skipped as already_running ran later")
	}
}

// ownerOf waits until h sees one of want own job, and returns it.
func ownerOf(t *testing.T, h *leaderjobtest.Harness, job string, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, j := range h.App.Status(context.Background()).Jobs {
			if j.Name == job && slices.Contains(want, j.Owner) {
				return j.Owner
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never saw %v own %s", h.App.Identity(), want, job)
	return ""
}

func last(rs []leaderjob.Result, job string) leaderjob.Result {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Job == job {
			return rs[i]
		}
	}
	return leaderjob.Result{}
}

// awaitCompleted waits until the ledger records job's fire at as completed.
func awaitCompleted(t *testing.T, l ledger.Ledger, job string, at time.Time) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s, err := l.Snapshot(context.Background())
		noErr(t, err)
		if js := s.Jobs[job]; js != nil && js.Completed != nil && js.Completed.At.Equal(at) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the ledger never recorded %s at %v as completed", job, at)
}

// LEADERJOB_SPREAD: on or off; anything else, or on with a sidecar, is a
// start-up error naming the variables; with always or never it is ignored
// with a warning.
func TestSpreadEnvironment(t *testing.T) {
	sidecar := leaderjob.WithGuardSources(map[string]leaderjob.GuardSource{
		leaderjob.GuardSidecar: func(leaderjob.SourceEnv) (leaderjob.Source, error) { return leaderjob.Source{Guard: guard.Always}, nil },
	})
	for _, tc := range []struct {
		env     map[string]string
		wantErr []string
		warn    bool
	}{
		{env: map[string]string{"LEADERJOB_SPREAD": "yes", "LEADERJOB_GUARD": "always"}, wantErr: []string{"LEADERJOB_SPREAD", `"yes"`, "on, off"}},
		{env: map[string]string{"LEADERJOB_SPREAD": "on", "LEADERJOB_GUARD": "sidecar"}, wantErr: []string{"LEADERJOB_SPREAD=on", "LEADERJOB_GUARD=lease"}},
		{env: map[string]string{"LEADERJOB_SPREAD": "on", "LEADERJOB_GUARD": "never"}, warn: true},
		{env: map[string]string{"LEADERJOB_SPREAD": "OFF", "LEADERJOB_GUARD": "always"}},
	} {
		var sink logSink
		_, err := leaderjob.New("app", leaderjob.WithEnv(envOf(tc.env)), leaderjob.WithLogger(sink.logger()), leaderjob.WithHTTPAddr(""), sidecar)
		switch {
		case tc.wantErr != nil:
			if !errors.Is(err, leaderjob.ErrConfig) {
				t.Errorf("%v: %v, want ErrConfig", tc.env, err)
				continue
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: %q does not say %q", tc.env, err, w)
				}
			}
		case err != nil:
			t.Errorf("%v: %v", tc.env, err)
		}
		warned := len(sink.withMsg(t, "spread mode is ignored with guard never: it spreads jobs over the members of a lease source")) == 1
		if warned != tc.warn {
			t.Errorf("%v: warned %v, want %v", tc.env, warned, tc.warn)
		}
	}
}
