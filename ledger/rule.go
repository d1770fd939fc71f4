package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/leaderjob/leaderjob/wire"
)

// ErrInvalid: a claim, completion or update that would make the State
// something readers refuse (wire.Ledger.Validate): a claim without a job
// name or a fire time, for instance. Nothing of it is recorded.
var ErrInvalid = errors.New("ledger: invalid request")

// MaxAhead bounds how far a job's stored claim may lie after a new claim
// of the job (after both its fire and its Claimed time, the claiming
// replica's clock). A stored claim further ahead (a hand edit, or a
// replica whose clock ran ahead of the fleet's) is not trusted: it would
// make every fire before it look handled, and stall the job until then.
// The next claim of a fire after the job's newest trusted instant sets it
// aside (ClaimResult.SetAside, which the Ledger logs as an error) and
// takes its place; a fire at or before that instant is ErrHandled, as it
// may have run. A replica whose clock is more than MaxAhead behind the
// fleet's takes the fleet's newest claims for such claims: keep clocks in
// step (the App warns when a claim was made later than its clock says).
const MaxAhead = 24 * time.Hour

// validate checks s as readers will (wire.Ledger.Validate): a State of a
// newer format is a *wire.FormatError (wrapping ErrNewerFormat), one that
// is no ledger wraps wire.ErrNotALedger.
func validate(s State) error { return wire.Ledger(s).Validate() }

// Claim applies the fencing rule to one claim: on success it records c as
// the job's claimed fire and raises the fence to c.Epoch; on failure
// (ErrFenced, ErrHandled, ErrNewerFormat, ErrInvalid) s is left
// unchanged. A claim needs a job name and a fire time (else ErrInvalid).
// A stored claim of the job more than MaxAhead after the claim is set
// aside (see MaxAhead). now fills
// c.Claimed when it is zero. Claim only changes s.
//
// A claim found as its own earlier write (same Job, At and ClaimID, not
// completed) succeeds with Rerun false, even if that write was a re-run:
// the State does not keep whether it was, so a caller that retries a claim
// after a lost reply should keep the first answer's Rerun if it had one.
//
// A scope reset (the fence was in another scope, or none) concerns the
// fence only: the jobs' records survive it, and part 2 of the rule applies
// to them unchanged. A fire completed under the old scope is still
// ErrHandled, a fire older than the last claimed one is still ErrHandled,
// and a fire claimed under the old scope but never completed is re-run
// (Rerun true): the old scope's leader lost its term with its Lease. The
// result reports ScopeReset only when the claim succeeded and so reset the
// fence; a refused claim resets nothing. Epochs of two scopes do not
// compare: while a leader of the old scope still writes, each of its
// claims resets the fence back (and each is reported); only the fire rule
// then keeps a completed fire from running again.
func (s *State) Claim(c Claim, now time.Time) ClaimResult {
	r, _ := s.claim(c, now)
	return r
}

// claim is Claim that also tells whether s changed (a claim found as its
// own earlier write changes nothing and needs no write).
func (s *State) claim(c Claim, now time.Time) (ClaimResult, bool) {
	if s.Version > FormatVersion {
		return ClaimResult{Err: ErrNewerFormat}, false
	}
	if c.Job == "" || c.At.IsZero() {
		return ClaimResult{Err: fmt.Errorf("%w: a claim needs a job name and a fire time (job %q, at %v)", ErrInvalid, c.Job, c.At)}, false
	}
	if c.Claimed.IsZero() {
		c.Claimed = now
	}
	horizon := c.Claimed
	if c.At.After(horizon) {
		horizon = c.At
	}
	horizon = horizon.Add(MaxAhead)
	var r ClaimResult
	var js *JobState
	if s.Jobs != nil {
		js = s.Jobs[c.Job]
	}
	switch {
	case c.Token > 0:
		// The ledger's own token orders terms whatever their epochs
		// (equal, restarted, from a re-created Lease).
		if c.Token < s.fenceOf(js) {
			return ClaimResult{Err: ErrFenced}, false
		}
	case s.Fence.Scope != c.Epoch.Scope:
		r.ScopeReset = true
	case c.Epoch.N < s.Fence.N:
		return ClaimResult{Err: ErrFenced}, false
	}
	r, changed := s.claimFire(c, js, r, horizon)
	if r.Err == nil && c.Token > 0 {
		if j := s.Jobs[c.Job]; j != nil && c.Token > j.Fence {
			j.Fence, changed = c.Token, true
		}
		if c.Token > s.Tokens {
			// Issued, then forgotten by a writer that predates tokens.
			s.Tokens, changed = c.Token, true
		}
	}
	return r, changed
}

// claimFire is claim's rule for the fire, once the claim passed the fence.
func (s *State) claimFire(c Claim, js *JobState, r ClaimResult, horizon time.Time) (ClaimResult, bool) {
	if js != nil && js.Claimed != nil && js.Claimed.At.After(horizon) {
		// The job's newest claim is beyond what any clock of the fleet
		// can mean: not trusted (see MaxAhead). Judge the claim by the
		// instants that are, and replace the rest with it.
		trusted := slices.DeleteFunc(slices.Clone(js.Recent), func(t time.Time) bool { return t.After(horizon) })
		if len(trusted) > 0 && !c.At.After(trusted[0]) {
			return ClaimResult{Err: ErrHandled}, false
		}
		s.init()
		s.raise(c.Epoch)
		old := *js.Claimed
		r.SetAside = &old
		js.Claimed = &c
		js.Recent = trusted
		remember(js, c.At)
		return r, true
	}
	// Given up by a catch-up (its cap); a mark beyond any clock of the fleet
	// (see MaxAhead) is not trusted.
	if js != nil && js.Claimed != nil && !js.GaveUp.IsZero() && !js.GaveUp.After(horizon) && !c.At.After(js.GaveUp) && !c.At.Equal(js.Claimed.At) {
		if _, open := js.OpenAt(c.At); !open {
			return ClaimResult{Err: ErrHandled}, false
		}
	}
	if js != nil && js.Claimed != nil {
		last := js.Claimed
		switch {
		case c.At.Before(last.At):
			if o, ok := js.OpenAt(c.At); ok {
				if o.ClaimID == c.ClaimID {
					// The claim's own earlier write.
					changed := s.raise(c.Epoch)
					if changed {
						s.init()
					}
					return r, changed
				}
				// Claimed by a term that never completed it: run again.
				s.init()
				s.raise(c.Epoch)
				r.Rerun = true
				addOpen(js, c)
				return r, true
			}
			if js.Handled(c.At) {
				return ClaimResult{Err: ErrHandled}, false
			}
			// A fire older than the newest claim that nobody claimed: a
			// catch-up. It is remembered, and open until completed;
			// Claimed keeps the newest.
			s.init()
			s.raise(c.Epoch)
			remember(js, c.At)
			addOpen(js, c)
			return r, true
		case c.At.Equal(last.At):
			if js.Completed != nil && js.Completed.At.Equal(c.At) {
				return ClaimResult{Err: ErrHandled}, false
			}
			if last.ClaimID == c.ClaimID {
				// The claim's own earlier write: it holds the fire already.
				changed := s.raise(c.Epoch)
				if changed {
					s.init()
				}
				return r, changed
			}
			r.Rerun = true
		}
	}
	s.init()
	s.raise(c.Epoch)
	if js == nil {
		js = &JobState{}
		s.Jobs[c.Job] = js
	}
	if last := js.Claimed; last != nil && last.At.Before(c.At) && !completedBy(js, *last) {
		addOpen(js, *last) // still running, or its term died: kept for the next leader
	}
	js.Claimed = &c
	remember(js, c.At)
	return r, true
}

// completedBy reports whether js's last completion is that of claim c.
func completedBy(js *JobState, c Claim) bool {
	d := js.Completed
	return d != nil && d.At.Equal(c.At) && d.ClaimID == c.ClaimID
}

// addOpen puts c into Open (replacing an open claim of the same fire),
// oldest first, keeping the newest OpenLen.
func addOpen(js *JobState, c Claim) {
	js.Open = slices.DeleteFunc(js.Open, func(o Claim) bool { return o.At.Equal(c.At) })
	i, _ := slices.BinarySearchFunc(js.Open, c.At, func(o Claim, at time.Time) int { return o.At.Compare(at) })
	js.Open = slices.Insert(js.Open, i, c)
	if n := len(js.Open); n > OpenLen {
		js.Open = slices.Delete(js.Open, 0, n-OpenLen)
	}
}

// Register issues a new fencing token, larger than every token issued
// before (the ledger's last one and every job's fence), and has the term that gets it take ownership of every job: a
// claim or completion with an older token is refused from then on. The
// token is the larger of the last one plus one and now in Unix
// milliseconds, so that it still grows if a writer that predates tokens
// rewrote the ledger without them (as long as clocks agree to within the
// time between two terms).
func (s *State) Register(now time.Time) int64 {
	t := max(s.Tokens+1, now.UnixMilli())
	for _, js := range s.Jobs {
		t = max(t, js.Fence+1) // a job's own tokens (spread mode's adoptions)
	}
	s.init()
	s.Tokens, s.Owner = t, t
	return t
}

// Fenced reports whether a write by the term holding token is refused for
// job (for the app as a whole when job is ""): a later term registered, or
// claimed the job, with a higher token. A token of 0 (a writer that
// predates tokens) is never fenced here; the epoch rule applies to it.
// Writers other than claims and completions (the catch-up cap, pruning,
// the operators' acknowledgements) check it, so that a deposed term
// changes nothing.
func (s *State) Fenced(job string, token int64) bool {
	if token <= 0 {
		return false
	}
	var js *JobState
	if job != "" && s.Jobs != nil {
		js = s.Jobs[job]
	}
	return token < s.fenceOf(js)
}

// fenceOf is the lowest token that may claim or complete a fire of js.
func (s *State) fenceOf(js *JobState) int64 {
	f := s.Owner
	if js != nil && js.Fence > f {
		f = js.Fence
	}
	return f
}

// raise sets the fence to e if e is in another scope or higher; it reports
// whether the fence changed.
func (s *State) raise(e Epoch) bool {
	if s.Fence.Scope != e.Scope || e.N > s.Fence.N {
		s.Fence = e
		return true
	}
	return false
}

func (s *State) init() {
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	if s.Jobs == nil {
		s.Jobs = make(map[string]*JobState)
	}
}

// Complete records how a claimed fire ended: only the claim that holds the
// fire (same Job, At and ClaimID) may complete it, any other completion is
// ErrFenced. It sets the job's Completed, its Success when the outcome is
// "ran", and puts the completion first in History (at most HistoryLen
// entries); Error is cut to MaxErrorLen bytes on a UTF-8 boundary. The same
// completion recorded twice (a retry whose first reply was lost) is
// recorded once and returns nil. The fires in the job's Busy due at or
// after the run's Ended, and before every other open claim of the job was
// made, are dropped from it: they were skipped while no run of the job
// went (only a completion was still to be written), and are missed fires
// again. Complete only changes s.
func (s *State) Complete(c Completion) error {
	_, err := s.complete(c)
	return err
}

// remember puts at into Recent, newest first, keeping at most RecentLen.
func remember(js *JobState, at time.Time) {
	i := 0
	for i < len(js.Recent) && js.Recent[i].After(at) {
		i++
	}
	if i < len(js.Recent) && js.Recent[i].Equal(at) {
		return
	}
	js.Recent = append(js.Recent, time.Time{})
	copy(js.Recent[i+1:], js.Recent[i:])
	js.Recent[i] = at
	if len(js.Recent) > RecentLen {
		js.Recent = js.Recent[:RecentLen]
	}
}

// claimedRecently reports whether at is among js's recent claims.
func claimedRecently(js *JobState, at time.Time) bool {
	return slices.ContainsFunc(js.Recent, at.Equal)
}

func (s *State) complete(c Completion) (bool, error) {
	changed, err := s.record(c)
	if changed && !c.Ended.IsZero() {
		freeBusy(s.Jobs[c.Job], c.Ended)
	}
	return changed, err
}

// freeBusy drops from js.Busy the fires due at or after ended, the end of
// a run of the job: a replica skipped them because a claim was still open
// (a completion not yet written), while no run of the job was going. They
// are missed fires again, which the job's owner catches up. A fire skipped
// while the run went stays handled, and so does one due after another
// claim of the job still open was made: that run may have been going.
func freeBusy(js *JobState, ended time.Time) {
	if js == nil || len(js.Busy) == 0 {
		return
	}
	held := func(at time.Time) bool { // another open claim made by at
		if c := js.Claimed; c != nil && !completedBy(js, *c) && !c.Claimed.After(at) {
			return true
		}
		return slices.ContainsFunc(js.Open, func(o Claim) bool { return !o.Claimed.After(at) })
	}
	if js.Busy = slices.DeleteFunc(js.Busy, func(at time.Time) bool { return !at.Before(ended) && !held(at) }); len(js.Busy) == 0 {
		js.Busy = nil
	}
}

// record records c (see Complete).
func (s *State) record(c Completion) (bool, error) {
	if s.Version > FormatVersion {
		return false, ErrNewerFormat
	}
	var js *JobState
	if s.Jobs != nil {
		js = s.Jobs[c.Job]
	}
	if js == nil || js.Claimed == nil {
		return false, ErrFenced
	}
	if c.Token > 0 && c.Token < s.fenceOf(js) {
		return false, ErrFenced // a later term registered: it runs the fire again
	}
	if !js.Claimed.At.Equal(c.At) || js.Claimed.ClaimID != c.ClaimID {
		// A fire older than the newest claim (a caught-up fire, a run
		// that overran its period): it goes into the history; Completed
		// and Success stay with the newer fires. An open claim is
		// completed only by the claim that holds it.
		if o, ok := js.OpenAt(c.At); ok {
			if o.ClaimID != c.ClaimID {
				return false, ErrFenced
			}
			js.Open = slices.DeleteFunc(js.Open, func(o Claim) bool { return o.At.Equal(c.At) })
			c.Error = truncate(c.Error, MaxErrorLen)
			addHistory(js, c)
			return true, nil
		}
		if c.At.Before(js.Claimed.At) && claimedRecently(js, c.At) {
			c.Error = truncate(c.Error, MaxErrorLen)
			addHistory(js, c)
			return true, nil
		}
		return false, ErrFenced
	}
	if d := js.Completed; d != nil && d.At.Equal(c.At) && d.ClaimID == c.ClaimID {
		return false, nil
	}
	c.Error = truncate(c.Error, MaxErrorLen)
	s.init()
	js.Completed = &c
	if c.Outcome == "ran" {
		cc := c
		js.Success = &cc
	}
	addHistory(js, c)
	return true, nil
}

// addHistory puts c first in History, keeping at most HistoryLen, its
// error cut to HistoryErrorLen (the last completion and the last success
// keep MaxErrorLen).
func addHistory(js *JobState, c Completion) {
	c.Error = truncate(c.Error, HistoryErrorLen)
	n := min(len(js.History)+1, HistoryLen)
	h := make([]Completion, n)
	h[0] = c
	copy(h[1:], js.History)
	js.History = h
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// Clone returns a deep copy of s: changing either leaves the other alone.
// It copies every field by value first, so that a field added to the
// stored document is never dropped by a copy; only the slices, maps and
// pointers are copied anew.
func (s State) Clone() State {
	out := s
	out.JobNames = slices.Clone(s.JobNames)
	out.Paused = maps.Clone(s.Paused)
	if s.Runs != nil {
		out.Runs = make(map[string]*Run, len(s.Runs))
		for k, v := range s.Runs {
			out.Runs[k] = clonePtr(v)
		}
	}
	if s.Jobs != nil {
		out.Jobs = make(map[string]*JobState, len(s.Jobs))
		for name, js := range s.Jobs {
			if js == nil {
				out.Jobs[name] = nil
				continue
			}
			c := *js
			c.Claimed, c.Completed, c.Success = clonePtr(js.Claimed), clonePtr(js.Completed), clonePtr(js.Success)
			c.Recent, c.History, c.Open = slices.Clone(js.Recent), slices.Clone(js.History), slices.Clone(js.Open)
			c.Busy = slices.Clone(js.Busy)
			out.Jobs[name] = &c
		}
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// EncodedSize is the size in bytes of s's JSON encoding
// (wire.EncodeLedger), the encoding that backends store and check against
// their size limit.
func EncodedSize(s State) (int, error) {
	b, err := wire.EncodeLedger(wire.Ledger(s))
	return len(b), err
}
