package ledger

import (
	"errors"
	"slices"
	"time"
)

// BusyLen bounds the fires a job's record keeps as skipped while another
// replica ran the job (JobState.Busy).
const BusyLen = 16

// ErrBusy: another replica's run of the job may still be going (spread
// mode): its newest claim, or an older one still open, is held by a live
// process. The job is not adopted; the fire is recorded as handled and
// skipped, as a fire that comes while the job runs is on one replica.
var ErrBusy = errors.New("ledger: the job's previous run may still be going on another replica")

// Adopt issues a fencing token for one job (spread mode, where each job
// has its owner): a token larger than every token issued before, which
// becomes the job's fence, so that claims and completions of the job by
// any earlier owner are refused from then on, while the other jobs' owners
// keep theirs. Unlike Register it leaves the other jobs alone.
//
// A job is not adopted while a claim of it may still be running elsewhere:
// when its newest claim is not completed, or an older one is open, and
// running(claim) reports that the claim's process is still live (a live
// member of the fleet, in the same incarnation that claimed, other than
// the adopter). Adopt then returns ErrBusy, and records at as handled (in
// JobState.Busy, at most BusyLen: never caught up) when running is sure of
// one such claim (its process is seen alive now, not only not yet seen
// dead), until a completion shows that the run had ended by at (Complete):
// an open claim may be a run that has ended and whose completion is still
// being written. A fire skipped while a process that may have died holds the job
// stays open, for a catch-up once the job is free. A zero at records
// nothing. A claim whose process is gone does not hold the job: its fire
// is open, and the new owner runs it again (the at-least-once case, as
// after a leader change).
//
// by names the adopter (JobState.AdoptedBy). The token is at least the
// job's fence plus one (the larger of its own and the ledger's owner's),
// the ledger's last token plus one and now in Unix milliseconds. In a
// spread ledger an adoption writes only the job's object (see
// NewShardedBackend). Adopt only changes s.
func (s *State) Adopt(job, by string, at, now time.Time, running func(Claim) (running, sure bool)) (int64, error) {
	if s.Version > FormatVersion {
		return 0, ErrNewerFormat
	}
	if job == "" {
		return 0, errors.Join(ErrInvalid, errors.New("adopting a job needs its name"))
	}
	s.init()
	js := s.Jobs[job]
	if b, sure := busy(js, s.fenceOf(js), running); b {
		if sure && !at.IsZero() && !slices.ContainsFunc(js.Busy, at.Equal) {
			js.Busy = append([]time.Time{at}, js.Busy...)
			slices.SortFunc(js.Busy, func(a, b time.Time) int { return b.Compare(a) })
			js.Busy = js.Busy[:min(len(js.Busy), BusyLen)]
		}
		return 0, ErrBusy
	}
	t := max(s.fenceOf(js)+1, s.Tokens+1, now.UnixMilli())
	if js == nil {
		js = &JobState{}
		s.Jobs[job] = js
	}
	js.Fence, js.AdoptedBy, s.Tokens = t, by, t
	return t, nil
}

// busy reports whether a claim of js that has not ended may still be
// running, as running judges it. A claim made with a token below the job's
// fence holds nothing: a later owner adopted the job meanwhile (a view
// that lagged), its completion will be refused, and it would otherwise
// hold the job for as long as its process lives.
func busy(js *JobState, fence int64, running func(Claim) (bool, bool)) (busy, sure bool) {
	if js == nil || running == nil {
		return false, false
	}
	holds := func(c Claim) {
		if c.Token != 0 && c.Token < fence {
			return
		}
		if r, s := running(c); r {
			busy, sure = true, sure || s
		}
	}
	if c := js.Claimed; c != nil && !completedBy(js, *c) {
		holds(*c)
	}
	for _, o := range js.Open {
		holds(o)
	}
	return busy, sure
}
