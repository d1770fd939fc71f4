package ledger

import (
	"slices"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// Pause is the leader's acknowledgement of an operator's pause of a job.
// While a job is in State.Paused its fires are skipped (and claimed, so
// that no catch-up runs them later).
//
// Deprecated: use wire.Pause, the same type.
type Pause = wire.Pause

// Run records an operator's run request (by its request id): the claim of
// the leader that took it, and how it ended. A request id is run once
// fleet-wide: a second claim of the same id is ErrHandled, unless the
// claiming term died before the run ended (then it is claimed again).
//
// Deprecated: use wire.Run, the same type.
type Run = wire.Run

// RunsLen bounds State.Runs: the oldest requests are forgotten first.
const RunsLen = 64

// ClaimRun claims the run request id for the term e (ClaimID claimID): it
// fails with ErrFenced when a newer term of the same scope wrote the
// ledger, and with ErrHandled when the request was claimed by another
// term that is still its holder's (same scope, not older) or was done.
// On success it records r (its Outcome cleared) and raises the fence.
func (s *State) ClaimRun(id string, r Run) error {
	if s.Version > FormatVersion {
		return ErrNewerFormat
	}
	if s.Fence.Scope == r.Epoch.Scope && r.Epoch.N < s.Fence.N {
		return ErrFenced
	}
	if old := s.Runs[id]; old != nil {
		if old.Done() {
			return ErrHandled
		}
		if old.ClaimID == r.ClaimID {
			return nil
		}
		if old.Epoch.Scope == r.Epoch.Scope && old.Epoch.N >= r.Epoch.N {
			return ErrHandled // its term is still the newest: it runs it
		}
	}
	s.init()
	s.raise(r.Epoch)
	if s.Runs == nil {
		s.Runs = map[string]*Run{}
	}
	r.Outcome, r.Error, r.Duration, r.Ended = "", "", 0, time.Time{}
	s.Runs[id] = &r
	s.trimRuns()
	return nil
}

// CompleteRun records how the run of request id ended; only its claim
// (the same ClaimID) may, any other completion is ErrFenced.
func (s *State) CompleteRun(id, claimID, outcome, errText string, d time.Duration, ended time.Time) error {
	if s.Version > FormatVersion {
		return ErrNewerFormat
	}
	r := s.Runs[id]
	if r == nil || r.ClaimID != claimID {
		return ErrFenced
	}
	r.Outcome, r.Error, r.Duration, r.Ended = outcome, truncate(errText, MaxErrorLen), d, ended
	return nil
}

// trimRuns forgets the oldest run requests beyond RunsLen.
func (s *State) trimRuns() {
	if len(s.Runs) <= RunsLen {
		return
	}
	ids := make([]string, 0, len(s.Runs))
	for id := range s.Runs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return s.Runs[a].Claimed.Compare(s.Runs[b].Claimed) })
	for _, id := range ids[:len(ids)-RunsLen] {
		delete(s.Runs, id)
	}
}

// SetPaused makes s.Paused the given set (the acknowledged pauses),
// keeping the acknowledgement of a pause already recorded with the same
// Since. It reports whether s changed.
func (s *State) SetPaused(paused map[string]Pause) bool {
	changed := len(paused) != len(s.Paused)
	next := make(map[string]Pause, len(paused))
	for job, p := range paused {
		if old, ok := s.Paused[job]; ok && old.Since.Equal(p.Since) && old.By == p.By && old.Reason == p.Reason {
			next[job] = old
			continue
		}
		changed = true
		next[job] = p
	}
	if !changed {
		return false
	}
	s.init()
	if len(next) == 0 {
		next = nil
	}
	s.Paused = next
	return true
}
