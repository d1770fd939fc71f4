package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
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

func TestRunsBounded(t *testing.T) {
	var s State
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range RunsLen + 5 {
		id := string(rune('A' + i))
		if err := s.ClaimRun(id, Run{Job: "j", ClaimID: "c", Epoch: Epoch{Scope: "u"}, Claimed: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Runs) != RunsLen || s.Runs["A"] != nil || s.Runs[string(rune('A'+RunsLen+4))] == nil {
		t.Fatalf("%d runs kept; the oldest must go first", len(s.Runs))
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
