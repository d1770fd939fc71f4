package ledger

import (
	"fmt"
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
// claiming term died before the run ended (then it is claimed again while
// the request has not expired).
//
// Deprecated: use wire.Run, the same type.
type Run = wire.Run

// Run requests expire instead of being forgotten: a request is claimed
// only within wire.RunRequestExpiry of its request time (ErrExpired
// after), and its record is kept RunRetention after that time, so that
// every request still listed by the operators either has its record (done:
// ErrHandled) or has expired: none runs twice, however old. The records
// are pruned by age when a run is claimed, so their number follows the
// rate of requests; RunsMax bounds it.
const (
	// RunRetention is how long a run record is kept after its request
	// time: twice wire.RunRequestExpiry, so that a replica whose clock is
	// up to a day behind the one that pruned a record still refuses the
	// request as expired.
	RunRetention = 2 * wire.RunRequestExpiry
	// RunsMax bounds State.Runs (about 0.4 KiB a record, 0.65 KiB with a
	// full error: at most about 83 KiB). A new request that finds RunsMax
	// records younger than RunRetention is refused with ErrTooLarge and
	// not recorded; it is claimed later, once older records age out, if
	// it has not expired by then. No record is dropped to make room.
	RunsMax = 128
	// RunsLen is RunsMax.
	//
	// Deprecated: the records are no longer trimmed to the newest
	// RunsLen; see RunsMax and RunRetention.
	RunsLen = RunsMax
)

// ErrExpired: a run request expired, or has no request time, and is never
// run (see wire.RunRequest.Check). It is wire.ErrRunExpired.
var ErrExpired = wire.ErrRunExpired

// ClaimRun claims the run request id for the term r.Epoch (ClaimID
// r.ClaimID) at r.Claimed, the claiming clock (required, ErrInvalid when
// zero): it fails with ErrFenced when a newer term of the same scope
// wrote the ledger; with ErrHandled when the request was done, or claimed
// by another term that is still its holder's (same scope, not older);
// with ErrExpired when the request (r.Requested, its RunRequest.At)
// expired at r.Claimed; and with ErrTooLarge when RunsMax records younger
// than RunRetention leave no room. On success it records r (its Outcome
// cleared), drops the records older than RunRetention, and raises the
// fence; on failure s is left unchanged.
func (s *State) ClaimRun(id string, r Run) error {
	if s.Version > FormatVersion {
		return ErrNewerFormat
	}
	if r.Claimed.IsZero() {
		return fmt.Errorf("%w: run request %s: the claim has no time", ErrInvalid, id)
	}
	if s.Fence.Scope == r.Epoch.Scope && r.Epoch.N < s.Fence.N {
		return ErrFenced
	}
	old := s.Runs[id]
	if old != nil {
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
	if err := (wire.RunRequest{At: r.Requested}).Check(r.Claimed); err != nil {
		return fmt.Errorf("run request %s: %w", id, err)
	}
	stale := s.staleRuns(r.Claimed)
	if old == nil && len(s.Runs)-len(stale) >= RunsMax {
		return fmt.Errorf("%w: run request %s: the ledger holds %d run records younger than %v (at most %d): it waits until older ones age out, or expires",
			ErrTooLarge, id, len(s.Runs)-len(stale), RunRetention, RunsMax)
	}
	s.init()
	s.raise(r.Epoch)
	if s.Runs == nil {
		s.Runs = map[string]*Run{}
	}
	for _, sid := range stale {
		delete(s.Runs, sid)
	}
	r.Outcome, r.Error, r.Duration, r.Ended = "", "", 0, time.Time{}
	s.Runs[id] = &r
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

// staleRuns lists the run records older than RunRetention at now, by
// their request time (their claim's, for a request without one): requests
// that expired long ago, whatever their outcome.
func (s *State) staleRuns(now time.Time) []string {
	var ids []string
	for id, r := range s.Runs {
		at := r.Requested
		if at.IsZero() {
			at = r.Claimed
		}
		if now.Sub(at) > RunRetention {
			ids = append(ids, id)
		}
	}
	return ids
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
