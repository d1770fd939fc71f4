package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// A claim superseded before it completed stays open: its own term
// completes it (into the history), another term's completion is fenced, and
// another term's claim of it is a re-run. At most OpenLen are kept.
func TestOpenClaims(t *testing.T) {
	var s State
	now := fire(0)
	claim := func(at time.Time, id string) ClaimResult {
		t.Helper()
		r := s.Claim(claimOf("a", at, "L", 1, id), now)
		if r.Err != nil {
			t.Fatalf("claim of %v by %s: %v", at, id, r.Err)
		}
		return r
	}
	claim(fire(1), "x") // runs long
	claim(fire(2), "x") // comes while fire 1 runs
	js := s.Jobs["a"]
	if len(js.Open) != 1 || !js.Open[0].At.Equal(fire(1)) {
		t.Fatalf("open %v, want the claim of fire 1", js.Open)
	}
	if err := s.Complete(Completion{Job: "a", At: fire(1), ClaimID: "y", Outcome: "ran"}); !errors.Is(err, ErrFenced) {
		t.Errorf("another term's completion of an open claim: %v, want ErrFenced", err)
	}
	if err := s.Complete(Completion{Job: "a", At: fire(1), ClaimID: "x", Outcome: "ran"}); err != nil {
		t.Fatal(err)
	}
	if len(js.Open) != 0 || !js.History[0].At.Equal(fire(1)) || !js.Claimed.At.Equal(fire(2)) {
		t.Errorf("after its completion: open %v, history %v, claimed %v", js.Open, js.History, js.Claimed.At)
	}
	if r := s.Claim(claimOf("a", fire(1), "L", 2, "y"), now); !errors.Is(r.Err, ErrHandled) {
		t.Errorf("a completed older fire claimed again: %v, want ErrHandled", r.Err)
	}

	claim(fire(3), "x") // fire 2 never completed: its term died
	if r := claim(fire(2), "z"); !r.Rerun {
		t.Error("another term's claim of a dead open claim is not a re-run")
	}
	if o, _ := js.OpenAt(fire(2)); o.ClaimID != "z" {
		t.Errorf("the open claim of fire 2 is %q's, want the re-run's (z)", o.ClaimID)
	}

	for i := 4; i < 4+2*OpenLen; i++ {
		claim(fire(i), "x")
	}
	if len(js.Open) != OpenLen {
		t.Errorf("%d open claims, want at most %d", len(js.Open), OpenLen)
	}
	for i := 1; i < len(js.Open); i++ {
		if !js.Open[i-1].At.Before(js.Open[i].At) {
			t.Fatalf("open claims not oldest first: %v", js.Open)
		}
	}
	if err := wire.Ledger(s).Validate(); err != nil {
		t.Errorf("the State with open claims does not validate: %v", err)
	}
}
