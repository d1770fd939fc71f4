package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

func TestRunClaimedOnceFleetWide(t *testing.T) {
	l := NewLedger(NewMemory())
	ctx := context.Background()
	req := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	claim := func(claimID string, n int64) error {
		return l.Update(ctx, func(s *State) (bool, error) {
			err := s.ClaimRun("r1", Run{Job: "report", Requested: req, Holder: claimID, ClaimID: claimID,
				Epoch: Epoch{Scope: "u", N: n}, Claimed: req})
			return err == nil, err
		})
	}
	if err := claim("a/0", 1); err != nil {
		t.Fatal(err)
	}
	if err := claim("b/0", 1); !errors.Is(err, ErrHandled) {
		t.Fatalf("same term, another claim: %v, want ErrHandled", err)
	}
	if err := claim("c/0", 0); !errors.Is(err, ErrFenced) {
		t.Fatalf("older term: %v, want ErrFenced", err)
	}
	// A newer term takes over a run its claimer never ended.
	if err := claim("b/1", 2); err != nil {
		t.Fatalf("newer term: %v", err)
	}
	if err := l.Update(ctx, func(s *State) (bool, error) {
		return true, s.CompleteRun("r1", "a/0", "ran", "", time.Second, req)
	}); !errors.Is(err, ErrFenced) {
		t.Fatalf("completion by the old claim: %v", err)
	}
	if err := l.Update(ctx, func(s *State) (bool, error) {
		return true, s.CompleteRun("r1", "b/1", "ran", "", time.Second, req)
	}); err != nil {
		t.Fatal(err)
	}
	if err := claim("d/0", 3); !errors.Is(err, ErrHandled) {
		t.Fatalf("done request: %v, want ErrHandled", err)
	}
	s, _ := l.Snapshot(ctx)
	if r := s.Runs["r1"]; r == nil || r.Outcome != "ran" || r.Holder != "b/1" {
		t.Fatalf("run: %+v", r)
	}
}

// claimAndRun is a leader's pass over the run requests listed at now:
// each one it may claim, it runs (counted in runs) and completes.
func claimAndRun(t *testing.T, s *State, listed map[string]time.Time, now time.Time, runs map[string]int) {
	t.Helper()
	for id, requested := range listed {
		r := Run{Job: "j", Requested: requested, ClaimID: "pod/0", Epoch: Epoch{Scope: "u", N: 1}, Claimed: now}
		err := s.ClaimRun(id, r)
		switch {
		case err == nil:
			runs[id]++
			if err := s.CompleteRun(id, "pod/0", "ran", "", time.Second, now); err != nil {
				t.Errorf("completion of %s at %v: %v", id, now, err)
			}
		case errors.Is(err, ErrHandled), errors.Is(err, ErrExpired):
		default:
			t.Fatalf("claim of %s at %v: %v", id, now, err)
		}
	}
}

// Operators make 200 run requests, one every half hour, and never remove
// one: each runs exactly once, however often the leader looks at them
// again and however old they get, and the ledger keeps only the records
// of the last RunRetention (not the newest RunsLen, which let an older
// request still listed run again).
func TestRunRequestsNeverRunTwice(t *testing.T) {
	var s State
	listed := map[string]time.Time{}
	runs := map[string]int{}
	const every = 30 * time.Minute
	most := 0
	now := t0
	for i := range 200 {
		listed[fmt.Sprintf("req-%03d", i)] = now
		claimAndRun(t, &s, listed, now, runs)
		claimAndRun(t, &s, listed, now.Add(every/2), runs) // and again, a little later
		most = max(most, len(s.Runs))
		if n, _ := EncodedSize(s); n > RunsMax*650 {
			t.Fatalf("after %d requests the ledger is %d bytes", i+1, n)
		}
		now = now.Add(every)
	}
	// Long after: nothing runs again, and the records have aged out.
	claimAndRun(t, &s, listed, now.Add(365*24*time.Hour), runs)
	for id := range listed {
		if runs[id] != 1 {
			t.Errorf("request %s ran %d times", id, runs[id])
		}
	}
	if want := int(RunRetention/every) + 1; most > want || most > RunsMax {
		t.Errorf("%d run records kept at most, want at most %d (the requests of the last %v)", most, want, RunRetention)
	}
	t.Logf("at most %d run records for 200 requests", most)
}

// Records younger than RunRetention are never dropped to make room: a new
// request beyond RunsMax is refused with ErrTooLarge (nothing changes),
// and claimed once older records age out, if it has not expired.
func TestRunRecordsCapped(t *testing.T) {
	var s State
	claim := func(id string, requested, now time.Time) error {
		return s.ClaimRun(id, Run{Job: "j", Requested: requested, ClaimID: "pod/0", Epoch: Epoch{Scope: "u"}, Claimed: now})
	}
	for i := range RunsMax {
		if err := claim(fmt.Sprintf("r%d", i), t0, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	before := s.Clone()
	if err := claim("late", t0, t0.Add(time.Minute)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("request beyond RunsMax: %v, want ErrTooLarge", err)
	}
	if len(s.Runs) != RunsMax || s.Runs["r0"] == nil || s.Runs["late"] != nil || !equalState(s, before) {
		t.Fatalf("%d records; the refused request changed the State", len(s.Runs))
	}
	if err := claim("again", t0, t0.Add(time.Minute)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%v", err)
	}
	// Once the records age out, a new request is claimed and they go.
	later := t0.Add(RunRetention + time.Minute)
	if err := claim("late", later, later); err != nil {
		t.Fatal(err)
	}
	if len(s.Runs) != 1 || s.Runs["late"] == nil {
		t.Fatalf("%d records after they aged out, want the new one only", len(s.Runs))
	}
}

// A request is claimed only within wire.RunRequestExpiry of its request
// time; one without a time, or dated a day ahead, is refused; a run whose
// claimer died is not started again once it expired; a claim needs its
// clock.
func TestRunRequestExpiry(t *testing.T) {
	claim := func(s *State, id string, requested, now time.Time, n int64) error {
		return s.ClaimRun(id, Run{Job: "j", Requested: requested, ClaimID: fmt.Sprintf("pod/%d", n), Epoch: Epoch{Scope: "u", N: n}, Claimed: now})
	}
	day := 24 * time.Hour
	var s State
	for _, tt := range []struct {
		name           string
		requested, now time.Time
		want           error
	}{
		{"fresh", t0, t0.Add(time.Minute), nil},
		{"just within", t0, t0.Add(day), nil},
		{"expired", t0, t0.Add(day + time.Second), ErrExpired},
		{"no request time", time.Time{}, t0, ErrExpired},
		{"a day ahead", t0.Add(day + time.Second), t0, ErrExpired},
		{"no claim time", t0, time.Time{}, ErrInvalid},
	} {
		err := claim(&s, tt.name, tt.requested, tt.now, 1)
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if !errors.Is(ErrExpired, wire.ErrRunExpired) {
		t.Error("ErrExpired is not wire.ErrRunExpired")
	}
	// Claimed by a term that died before the end: a newer term takes it
	// while it is fresh, not once it expired.
	var d State
	if err := claim(&d, "r", t0, t0, 1); err != nil {
		t.Fatal(err)
	}
	if err := claim(&d, "r", t0, t0.Add(day+time.Minute), 2); !errors.Is(err, ErrExpired) {
		t.Errorf("expired run of a dead term: %v, want ErrExpired", err)
	}
	if err := claim(&d, "r", t0, t0.Add(time.Hour), 2); err != nil {
		t.Errorf("fresh run of a dead term: %v", err)
	}
}

func TestSetPausedKeepsAcknowledgement(t *testing.T) {
	var s State
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := Pause{By: "ops", Reason: "x", Since: since, Acked: since.Add(time.Second), Holder: "a"}
	if !s.SetPaused(map[string]Pause{"j": p}) {
		t.Fatal("no change")
	}
	q := p
	q.Acked, q.Holder = since.Add(time.Hour), "b"
	if s.SetPaused(map[string]Pause{"j": q}) || s.Paused["j"].Holder != "a" {
		t.Fatalf("the same pause re-acknowledged: %+v", s.Paused)
	}
	if !s.SetPaused(nil) || s.Paused != nil {
		t.Fatalf("resume: %+v", s.Paused)
	}
}

// A State written by an earlier release (no paused, no runs) still
// decodes, and one without them encodes without the new keys.
func TestControlFieldsOmitted(t *testing.T) {
	b, _ := json.Marshal(State{Version: 1})
	if string(b) != `{"version":1,"fence":{"scope":"","n":0}}` {
		t.Fatal(string(b))
	}
	s := State{Version: 1, Paused: map[string]Pause{"j": {}}, Runs: map[string]*Run{"r": {Job: "j"}}}
	c := s.Clone()
	c.Runs["r"].Job = "k"
	if s.Runs["r"].Job != "j" {
		t.Fatal("Clone shares runs")
	}
}
