package ledger

import (
	"errors"
	"testing"
	"time"
)

// The ledger's own fencing tokens order terms that epochs cannot: equal
// epochs (a sidecar that gives none), a re-created Lease (a new scope), a
// claim write delayed past a newer term's claim, and a completion from a
// term that a newer one superseded.
func TestFencingTokens(t *testing.T) {
	tokened := func(job string, at time.Time, scope string, n int64, id string, token int64) Claim {
		c := claimOf(job, at, scope, n, id)
		c.Token = token
		return c
	}
	now := fire(0)
	t.Run("equal epochs", func(t *testing.T) {
		var s State
		a := s.Register(now)
		b := s.Register(now)
		if b <= a {
			t.Fatalf("tokens %d then %d: not increasing", a, b)
		}
		if r := s.Claim(tokened("j", fire(1), "", 0, "b", b), now); r.Err != nil {
			t.Fatal(r.Err)
		}
		if r := s.Claim(tokened("j", fire(2), "", 0, "a", a), now); !errors.Is(r.Err, ErrFenced) {
			t.Errorf("the older term's claim with an equal epoch: %v, want ErrFenced", r.Err)
		}
	})
	t.Run("a re-created Lease", func(t *testing.T) {
		var s State
		a := s.Register(now)
		if r := s.Claim(tokened("j", fire(1), "lease-uid-1", 5, "a", a), now); r.Err != nil {
			t.Fatal(r.Err)
		}
		b := s.Register(now) // the Lease was deleted and re-created: a new scope, N from 0
		if r := s.Claim(tokened("j", fire(2), "lease-uid-2", 0, "b", b), now); r.Err != nil {
			t.Fatal(r.Err)
		}
		// The old holder, still running its term under the old Lease.
		if r := s.Claim(tokened("j", fire(3), "lease-uid-1", 5, "a", a), now); !errors.Is(r.Err, ErrFenced) {
			t.Errorf("the old scope's term after the new one registered: %v, want ErrFenced (epochs alone reset the scope)", r.Err)
		}
	})
	t.Run("a delayed claim write", func(t *testing.T) {
		var s State
		a := s.Register(now)
		b := s.Register(now)
		if r := s.Claim(tokened("j", fire(1), "L", 1, "b", b), now); r.Err != nil {
			t.Fatal(r.Err)
		}
		// a's claim of the same fire, written late.
		if r := s.Claim(tokened("j", fire(1), "L", 1, "a", a), now); !errors.Is(r.Err, ErrFenced) {
			t.Errorf("a delayed claim of the newer term's fire: %v, want ErrFenced (it used to take the fire over)", r.Err)
		}
		if err := s.Complete(Completion{Job: "j", At: fire(1), ClaimID: "b", Outcome: "ran", Token: b}); err != nil {
			t.Errorf("the newer term's completion: %v", err)
		}
	})
	t.Run("a completion after a newer term registered", func(t *testing.T) {
		var s State
		a := s.Register(now)
		if r := s.Claim(tokened("j", fire(1), "L", 1, "a", a), now); r.Err != nil {
			t.Fatal(r.Err)
		}
		b := s.Register(now) // the holder's Lease was deleted while it ran the job
		if err := s.Complete(Completion{Job: "j", At: fire(1), ClaimID: "a", Outcome: "ran", Token: a}); !errors.Is(err, ErrFenced) {
			t.Errorf("the old term's completion: %v, want ErrFenced", err)
		}
		r := s.Claim(tokened("j", fire(1), "L", 2, "b", b), now)
		if r.Err != nil || !r.Rerun {
			t.Errorf("the new term's claim of the fire left open: %+v, want a re-run", r)
		}
	})
	t.Run("tokens outlive a writer that drops them", func(t *testing.T) {
		var s State
		a := s.Register(now)
		s.Tokens, s.Owner = 0, 0 // rewritten by a release that predates tokens
		if b := s.Register(now.Add(time.Second)); b <= a {
			t.Errorf("token %d after %d: not increasing", b, a)
		}
	})
}

// Writes other than claims and completions (the catch-up cap, pruning,
// the operators' acknowledgements) check State.Fenced: a term a later one
// superseded, app-wide or on one job, is refused; a writer without a
// token is left to the epoch rule.
func TestFencedForOtherWrites(t *testing.T) {
	var s State
	older := s.Register(t0)
	newer := s.Register(t0)
	if !s.Fenced("", older) || !s.Fenced("report", older) {
		t.Error("the older term is not fenced after a later registration")
	}
	if s.Fenced("", newer) || s.Fenced("report", newer) || s.Fenced("report", 0) {
		t.Error("the current term, or a writer without a token, is fenced")
	}
	c := claimOf("report", fire(1), "L", 1, "x")
	c.Token = newer + 5 // a later owner of this job alone (spread mode)
	s.Tokens = newer + 5
	if r := s.Claim(c, t0); r.Err != nil {
		t.Fatal(r.Err)
	}
	if !s.Fenced("report", newer) || s.Fenced("other", newer) {
		t.Error("a job's own fence is not checked per job")
	}
}
