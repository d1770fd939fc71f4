package ledger

import (
	"errors"
	"testing"
	"time"
)

// Spread mode: each job's owner adopts it with a token of its own. The
// interleavings of two owners of one job (a view that lags, a delayed
// write, an owner that died mid-run, one whose run still goes) each keep
// every fire to one run, and no run starts beside a live one.
func TestAdopt(t *testing.T) {
	now := fire(0)
	live := func(holders ...string) func(Claim) (bool, bool) {
		return func(c Claim) (bool, bool) {
			for _, h := range holders {
				if c.Holder == h {
					return true, true
				}
			}
			return false, false
		}
	}
	claim := func(s *State, job string, at time.Time, id string, tok int64) error {
		c := claimOf(job, at, "", 0, id)
		c.Token = tok
		return s.Claim(c, now).Err
	}
	complete := func(s *State, job string, at time.Time, id string, tok int64) error {
		return s.Complete(Completion{Job: job, At: at, ClaimID: id, Holder: "pod-" + id, Outcome: "ran", Token: tok})
	}

	t.Run("the old owner's claims are fenced, other jobs' owners are not", func(t *testing.T) {
		var s State
		a, err := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := s.Adopt("y", "pod-n", time.Time{}, now, nil)
		if err := claim(&s, "x", fire(1), "a", a); err != nil {
			t.Fatal(err)
		}
		if err := complete(&s, "x", fire(1), "a", a); err != nil {
			t.Fatal(err)
		}
		b, err := s.Adopt("x", "pod-n", fire(2), now, live("pod-a"))
		if err != nil || b <= a {
			t.Fatalf("adopting a job whose runs ended: token %d, %v; want one above %d", b, err, a)
		}
		if err := claim(&s, "x", fire(2), "a", a); !errors.Is(err, ErrFenced) {
			t.Errorf("the old owner's claim after the adoption (its view lags): %v, want ErrFenced", err)
		}
		if err := claim(&s, "x", fire(2), "b", b); err != nil {
			t.Errorf("the new owner's claim: %v", err)
		}
		if err := claim(&s, "y", fire(2), "c", other); err != nil {
			t.Errorf("another job's owner, adopted before: %v, want its claims to go on", err)
		}
		if s.Owner != 0 {
			t.Errorf("Owner = %d: an adoption must not take every job", s.Owner)
		}
	})
	t.Run("a live owner's run holds the job, and the fire it skips stays handled", func(t *testing.T) {
		var s State
		a, _ := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		if err := claim(&s, "x", fire(1), "a", a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Adopt("x", "pod-n", fire(2), now, live("pod-a")); !errors.Is(err, ErrBusy) {
			t.Fatalf("adopting while the live owner's run goes: %v, want ErrBusy", err)
		}
		if !s.Jobs["x"].Handled(fire(2)) {
			t.Error("the fire skipped as busy is not handled: a catch-up would run it later")
		}
		if err := claim(&s, "x", fire(1), "a", a); err != nil {
			t.Errorf("the running owner still holds its fire: %v", err)
		}
		if err := complete(&s, "x", fire(1), "a", a); err != nil {
			t.Fatalf("the running owner's completion: %v", err)
		}
		if _, err := s.Adopt("x", "pod-n", fire(3), now, live("pod-a")); err != nil {
			t.Errorf("adopting once the run ended: %v", err)
		}
	})
	t.Run("a fire skipped after the run ended, its completion not yet written, is missed again", func(t *testing.T) {
		var s State
		a, _ := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		_ = claim(&s, "x", fire(1), "a", a)
		during, after := fire(1).Add(10*time.Second), fire(2) // the run ends at fire(1)+30s
		for _, at := range []time.Time{during, after} {
			if _, err := s.Adopt("x", "pod-n", at, now, live("pod-a")); !errors.Is(err, ErrBusy) {
				t.Fatalf("adopting while the claim is open: %v, want ErrBusy", err)
			}
		}
		err := s.Complete(Completion{Job: "x", At: fire(1), ClaimID: "a", Holder: "pod-a", Outcome: "ran", Token: a, Ended: fire(1).Add(30 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if !s.Jobs["x"].Handled(during) {
			t.Error("the fire skipped while the run went is no longer handled")
		}
		if s.Jobs["x"].Handled(after) {
			t.Error("the fire due after the run had ended is still handled: no catch-up would run it, and no run held it")
		}
		if _, err := s.Adopt("x", "pod-n", time.Time{}, now, live("pod-a")); err != nil {
			t.Errorf("adopting once the completion is written: %v", err)
		}
	})
	t.Run("a fire skipped while the holder's next run went stays handled after the older run's completion", func(t *testing.T) {
		var s State
		a, _ := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		for _, at := range []time.Time{fire(1), fire(2)} {
			c := claimOf("x", at, "", 0, "a")
			c.Token, c.Claimed = a, at
			if r := s.Claim(c, now); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
		between, during := fire(1).Add(40*time.Second), fire(2).Add(10*time.Second) // run 1 ends at +30s, run 2 begins at fire(2)
		for _, at := range []time.Time{between, during} {
			if _, err := s.Adopt("x", "pod-n", at, now, live("pod-a")); !errors.Is(err, ErrBusy) {
				t.Fatalf("adopting while claims are open: %v, want ErrBusy", err)
			}
		}
		err := s.Complete(Completion{Job: "x", At: fire(1), ClaimID: "a", Holder: "pod-a", Outcome: "ran", Token: a, Ended: fire(1).Add(30 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if s.Jobs["x"].Handled(between) {
			t.Error("the fire due between the two runs is still handled")
		}
		if !s.Jobs["x"].Handled(during) {
			t.Error("the fire due while the next run may have been going is no longer handled: it would run late instead of being skipped")
		}
	})
	t.Run("a process that may have died holds the job, but its fires stay open", func(t *testing.T) {
		var s State
		a, _ := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		_ = claim(&s, "x", fire(1), "a", a)
		unsure := func(c Claim) (bool, bool) { return c.Holder == "pod-a", false }
		if _, err := s.Adopt("x", "pod-n", fire(2), now, unsure); !errors.Is(err, ErrBusy) {
			t.Fatalf("adopting while a process not yet seen dead holds a claim: %v, want ErrBusy", err)
		}
		if s.Jobs["x"].Handled(fire(2)) {
			t.Error("a fire skipped while the holder may be dead is handled: no catch-up would run it")
		}
	})
	t.Run("an older open claim of a live process holds the job too", func(t *testing.T) {
		var s State
		a, _ := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		_ = claim(&s, "x", fire(1), "a", a) // overruns its period
		_ = claim(&s, "x", fire(2), "a", a)
		_ = complete(&s, "x", fire(2), "a", a)
		if _, err := s.Adopt("x", "pod-n", fire(3), now, live("pod-a")); !errors.Is(err, ErrBusy) {
			t.Errorf("adopting while an older run of the live owner goes: %v, want ErrBusy", err)
		}
	})
	t.Run("a dead owner's open fire is run again by the new owner", func(t *testing.T) {
		var s State
		a, _ := s.Adopt("x", "pod-n", time.Time{}, now, nil)
		_ = claim(&s, "x", fire(1), "a", a)
		b, err := s.Adopt("x", "pod-n", fire(2), now, live())
		if err != nil {
			t.Fatalf("adopting from a dead owner: %v", err)
		}
		c := claimOf("x", fire(1), "", 0, "b")
		c.Token = b
		if r := s.Claim(c, now); r.Err != nil || !r.Rerun {
			t.Errorf("the dead owner's open fire: %+v, want a re-run", r)
		}
		if err := complete(&s, "x", fire(1), "a", a); !errors.Is(err, ErrFenced) {
			t.Errorf("the dead owner's late completion: %v, want ErrFenced", err)
		}
	})
	t.Run("tokens stay above every owner's, and Register still fences them all", func(t *testing.T) {
		var s State
		lastOf := map[string]int64{}
		var last int64
		for i := range 1000 {
			job := []string{"x", "y", "z"}[i%3]
			tok, err := s.Adopt(job, "pod-n", time.Time{}, now, nil)
			if err != nil || tok <= lastOf[job] {
				t.Fatalf("adoption %d of %s: token %d after %d, %v", i, job, tok, lastOf[job], err)
			}
			lastOf[job], last = tok, max(last, tok)
		}
		if s.Tokens != last {
			t.Errorf("Tokens = %d, want the last token issued, %d", s.Tokens, last)
		}
		r := s.Register(now)
		for _, job := range []string{"x", "y", "z"} {
			if !s.Fenced(job, last) || s.Fenced(job, r) {
				t.Errorf("job %s after a single leader registered: owners' token fenced %v, leader's %v", job, s.Fenced(job, last), s.Fenced(job, r))
			}
		}
	})
	t.Run("bad input", func(t *testing.T) {
		var s State
		if _, err := s.Adopt("", "pod-n", time.Time{}, now, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("no job name: %v, want ErrInvalid", err)
		}
		s.Version = FormatVersion + 1
		if _, err := s.Adopt("x", "pod-n", time.Time{}, now, nil); !errors.Is(err, ErrNewerFormat) {
			t.Errorf("a newer format: %v, want ErrNewerFormat", err)
		}
	})
}

// A claim made before a later owner adopted the job (a view that lagged)
// can never be completed; it does not hold the job against the owners
// after.
func TestAdoptSupersededClaimHoldsNothing(t *testing.T) {
	now := fire(0)
	var s State
	d, _ := s.Adopt("x", "pod-d", time.Time{}, now, nil)
	c := claimOf("x", fire(1), "", 0, "d")
	c.Token = d
	if r := s.Claim(c, now); r.Err != nil {
		t.Fatal(r.Err)
	}
	liveD := func(c Claim) (bool, bool) { return c.Holder == "pod-d", c.Holder == "pod-d" }
	// c, which had not seen d yet, adopted the job while d's run went on.
	if _, err := s.Adopt("x", "pod-c", fire(2), now, func(Claim) (bool, bool) { return false, false }); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(Completion{Job: "x", At: fire(1), ClaimID: "d", Outcome: "ran", Token: d}); !errors.Is(err, ErrFenced) {
		t.Fatalf("the superseded claim's completion: %v, want ErrFenced", err)
	}
	if _, err := s.Adopt("x", "pod-b", fire(3), now, liveD); err != nil {
		t.Errorf("a third owner, with d live and its superseded claim open: %v, want the adoption", err)
	}
}
