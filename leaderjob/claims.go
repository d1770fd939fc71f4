package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/ledger"
	"github.com/leaderjob/leaderjob/wire"
)

// Skip reasons of claimed fires.
const (
	// ReasonFenced: a newer leader has written the ledger; this replica
	// was deposed and must not run.
	ReasonFenced = guard.Reason(wire.SkipFenced)
	// ReasonHandled: the fleet's ledger says the fire was claimed or run
	// already (by this replica or another).
	ReasonHandled = guard.Reason(wire.SkipHandled)
	// ReasonLedgerUnavailable: the claim could not be written; the run is
	// skipped rather than risk a second run (fail closed).
	ReasonLedgerUnavailable = guard.Reason(wire.SkipLedgerUnavailable)
	// ReasonNotDue: a start-up fire of a fixed-rate or fixed-delay job
	// whose previous fire, anywhere in the fleet, was less than a period
	// ago (a rolling update does not run an hourly job early).
	ReasonNotDue = guard.Reason(wire.SkipNotDue)
)

// claimTimeout bounds the write of a claim or a completion.
const claimTimeout = 5 * time.Second

// claims decides whether a job's fires go through the ledger: jobs with a
// catch-up policy, one-shot jobs, and jobs that opt in with WithClaim.
func (j *job) claims() bool {
	return !j.cfg.everyReplica && (j.cfg.claim || !j.catchUp.IsOff() || j.schedule.kind == kindOnce)
}

// ledgerJob is the name a job's fires are recorded under: a one-shot job
// is recorded per release, so that a new release runs it again.
func (a *App) ledgerJob(j *job) string {
	if j.schedule.kind == kindOnce {
		return j.name + "@" + a.fires.version
	}
	return j.name
}

// onceAt is the instant a one-shot job's single fire is recorded at.
var onceAt = time.Unix(0, 0).UTC()

// fireKey is the idempotency key of a fire: the same on every replica and
// for every re-run of that fire.
func (a *App) fireKey(j *job, at time.Time) string {
	if j.schedule.kind == kindOnce {
		return a.name + "/" + a.ledgerJob(j)
	}
	return a.name + "/" + j.name + "/" + at.UTC().Format(time.RFC3339Nano)
}

// terms names the leadership terms of this process for claim ids: a
// term is the Lost channel of its Decisions.
type terms struct {
	mu  sync.Mutex
	ids map[<-chan struct{}]int

	// The fencing token each term got when it registered in the ledger.
	regMu  sync.Mutex // one registration at a time
	tokens map[<-chan struct{}]int64
}

// token returns the fencing token of d's term, registering the term in the
// ledger (State.Register: it takes ownership of every job) on first use.
func (a *App) token(ctx context.Context, d guard.Decision) (int64, error) {
	t := &a.fires.terms
	t.regMu.Lock()
	defer t.regMu.Unlock()
	if tok, ok := t.tokens[d.Lost]; ok {
		return tok, nil
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	var tok int64
	err := a.fires.ledger.Update(ctx, func(s *ledger.State) (bool, error) {
		// A term the leadership source already superseded (a lower epoch
		// of the same scope has written the ledger) does not register: it
		// would fence the real leader.
		if s.Fence.Scope == d.EpochScope && s.Fence.N > d.Epoch {
			return false, ledger.ErrFenced
		}
		tok = s.Register(a.clock.Now())
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("registering the term in the ledger: %w", err)
	}
	if t.tokens == nil {
		t.tokens = map[<-chan struct{}]int64{}
	}
	t.tokens[d.Lost] = tok
	a.logger.Debug("term registered in the ledger", slog.Int64("token", tok))
	return tok, nil
}

// reRegisterIfUnfenced drops the token tok of d's term when its claim was
// fenced by a job's own token (a replica in spread mode adopted the job:
// spread mode was on, or still is on a replica of the release a rolling
// update replaces), not by a later term: the term then registers again on
// its next claim, above every job's fence. A term that a later one
// superseded stays fenced.
func (a *App) reRegisterIfUnfenced(ctx context.Context, d guard.Decision, tok int64) {
	s, err := a.fires.ledger.Snapshot(ctx)
	if err != nil || s.Owner > tok {
		return
	}
	t := &a.fires.terms
	t.regMu.Lock()
	defer t.regMu.Unlock()
	if t.tokens[d.Lost] == tok {
		delete(t.tokens, d.Lost)
		a.logger.Info("a job was adopted by a replica in spread mode: this term registers in the ledger again", slog.Int64("token", tok))
	}
}

func (t *terms) id(prefix string, d guard.Decision) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ids == nil {
		t.ids = map[<-chan struct{}]int{}
	}
	n, ok := t.ids[d.Lost]
	if !ok {
		n = len(t.ids)
		t.ids[d.Lost] = n
	}
	return prefix + "/" + strconv.Itoa(n)
}

// claim records the fire of at in the ledger before the job runs. It
// returns nil when the job may run, and the skip otherwise.
func (a *App) claim(ctx context.Context, at *attempt, d guard.Decision) *skip {
	j := at.job
	tok, err := a.tokenFor(ctx, at, d)
	if err != nil {
		switch {
		case errors.Is(err, ledger.ErrFenced):
			return skipBecause(ReasonFenced, err)
		case errors.Is(err, ledger.ErrBusy):
			return skipBecause(ReasonAlreadyRunning, err)
		}
		a.metrics.LedgerError("claim")
		a.catchUps.outage.Store(true)
		return skipBecause(ReasonLedgerUnavailable, err)
	}
	c := ledger.Claim{
		Token: tok,
		Job:   a.ledgerJob(j), At: at.info.ScheduledAt.UTC(), Key: at.info.Key,
		Epoch:   ledger.Epoch{Scope: d.EpochScope, N: d.Epoch},
		ClaimID: a.fires.terms.id(a.runSeq.prefixOf(), d), Holder: a.self,
		CatchUp: at.info.CatchUp, Claimed: a.clock.Now().UTC(),
	}
	at.token = tok
	if j.schedule.kind == kindOnce {
		c.At = onceAt
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	results, err := a.fires.ledger.Claim(ctx, []ledger.Claim{c})
	if err == nil && len(results) == 1 {
		err = results[0].Err
		if err == nil {
			if j.schedule.kind == kindOnce {
				a.pruneReleases(ctx, j)
			}
			if at.kind != catchUpFire && a.catchUps.outage.CompareAndSwap(true, false) {
				at.ledgerBack = true // caught up once this attempt has let go of the job
			}
			at.claimID = c.ClaimID
			a.fires.unsure.done(c.Job, c.At)
			if results[0].Rerun {
				at.info.CatchUp, at.rerun = true, true
			}
			return nil
		}
	}
	if err == nil {
		err = fmt.Errorf("%w: no answer for the claim", ledger.ErrUnavailable)
	}
	switch {
	case errors.Is(err, ledger.ErrFenced):
		if a.spread != nil {
			j.forgetAdoption(tok) // another owner adopted it: the next fire adopts it again if it is still ours
		} else {
			a.reRegisterIfUnfenced(ctx, d, tok)
		}
		return skipBecause(ReasonFenced, fmt.Errorf("claim of %s: %w", c.Key, err))
	case errors.Is(err, ledger.ErrHandled):
		return skipBecause(ReasonHandled, fmt.Errorf("claim of %s: %w", c.Key, err))
	default:
		a.metrics.LedgerError("claim")
		a.catchUps.outage.Store(true)
		a.fires.unsure.add(c.Job, c.At, c.ClaimID) // it may be written all the same
		return skipBecause(ReasonLedgerUnavailable, fmt.Errorf("claim of %s: %w", c.Key, err))
	}
}

// complete records how a claimed fire ended. A run cut short (canceled:
// shutdown, lost leadership) is not recorded as completed: its claim stays
// open, so the next leader runs the fire again under the same key (the
// at-least-once case).
//
// In spread mode a run an operator cut short is recorded (canceled) while
// this replica stays a member, and a completion the ledger could not take
// is tried again until it can (or the term or the App ends): an open claim
// of a live process keeps every other owner from adopting the job.
func (a *App) complete(at *attempt) {
	if at.claimID == "" || at.leaveOpen || (at.res.Outcome == guard.Canceled && !a.keepsCanceled(at)) {
		return
	}
	r := at.res
	c := ledger.Completion{
		Job: a.ledgerJob(at.job), At: at.info.ScheduledAt.UTC(), ClaimID: at.claimID, Holder: a.self,
		Outcome: string(r.Outcome), Duration: r.Duration, Ended: a.clock.Now().UTC(), Token: at.token,
	}
	if at.job.schedule.kind == kindOnce {
		c.At = onceAt
	}
	if r.Err != nil {
		c.Error = r.Err.Error()
	}
	if a.recordEnd(at, c) || !a.spreads(at.job) || !a.life.inflight.add() {
		return
	}
	// Again in the background, counted as work that shutdown waits for,
	// so that the job's next fires need not wait for it.
	go func() {
		defer a.life.inflight.done()
		for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
			select {
			case <-a.clock.After(wait):
			case <-at.decision.Lost:
				return
			case <-a.life.base.Done():
				a.recordEnd(at, c) // once more, as the App stops
				return
			}
			if a.recordEnd(at, c) {
				return
			}
		}
	}()
}

// recordEnd writes completion c of attempt at; it reports whether that is
// over: written, or refused for good (fenced).
func (a *App) recordEnd(at *attempt, c ledger.Completion) bool {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	err := a.fires.ledger.Complete(ctx, c)
	cancel()
	if err == nil {
		return true
	}
	a.metrics.LedgerError("complete")
	a.logger.Warn("could not record the end of a run in the ledger", "job", at.job.name,
		"key", at.info.Key, "error", err.Error())
	if errors.Is(err, ledger.ErrFenced) {
		if a.spreads(at.job) {
			at.job.forgetAdoption(at.token) // adopted elsewhere meanwhile: adopt again if still ours
		}
		return true
	}
	// A newer format, an object over its limit, a corrupt one or an
	// invalid request stays so until an operator acts: not worth another
	// try. A ledger that could not be reached or written for now is.
	for _, permanent := range []error{ledger.ErrNewerFormat, ledger.ErrCorrupt, ledger.ErrTooLarge, ledger.ErrInvalid} {
		if errors.Is(err, permanent) {
			return true
		}
	}
	return false
}

// keepsCanceled reports whether a run cut short is recorded as ended: in
// spread mode, when neither the term nor the App ended (an operator cut
// it short), so that the next owner may adopt the job.
func (a *App) keepsCanceled(at *attempt) bool {
	if !a.spreads(at.job) || a.life.base.Err() != nil {
		return false
	}
	select {
	case <-at.decision.Lost:
		return false
	default:
		return true
	}
}

// pruneReleases keeps the ledger's records of the newest
// ledger.ReleasesKept releases of one-shot job j (one per release), so that
// the ledger does not grow with every deploy.
func (a *App) pruneReleases(ctx context.Context, j *job) {
	err := a.fires.ledger.Update(ctx, func(s *ledger.State) (bool, error) {
		return s.PruneReleases(j.name), nil
	})
	if err != nil {
		a.logger.Warn("could not drop the records of old releases from the ledger", "job", j.name, "error", err.Error())
	}
}

// fenced is the check of ledger writes other than claims and completions:
// ErrFenced when d's term was deposed, by its source's epoch or by a later
// term's fencing token (tok, 0 when unknown) for job ("" for the app).
func fenced(s *ledger.State, d guard.Decision, tok int64, job string) error {
	if (s.Fence.Scope == d.EpochScope && s.Fence.N > d.Epoch) || s.Fenced(job, tok) {
		return ledger.ErrFenced
	}
	return nil
}

// appToken is the token of the leader's writes for the App as a whole:
// its term's, or none in spread mode, where the leader does not take every
// job (its writes, the pauses' acknowledgements and the pruning of idle
// jobs, are fenced by its epoch only).
func (a *App) appToken(ctx context.Context, d guard.Decision) (int64, error) {
	if a.spread != nil {
		return 0, nil
	}
	return a.token(ctx, d)
}

// pruneIdle drops from the ledger the records of jobs this App does not
// schedule that have been idle for ledger.IdleGrace, once per term.
func (a *App) pruneIdle(ctx context.Context, d guard.Decision) {
	a.mu.Lock()
	names := make(map[string]bool, len(a.jobs))
	for name := range a.jobs {
		names[name] = true
	}
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	now := a.clock.Now()
	tok, err := a.appToken(ctx, d)
	if err != nil {
		a.logger.Warn("the term cannot register in the ledger", "error", err.Error())
		return
	}
	err = a.fires.ledger.Update(ctx, func(s *ledger.State) (bool, error) {
		if err := fenced(s, d, tok, ""); err != nil {
			return false, err
		}
		return s.PruneIdle(func(job string) bool { return names[job] }, now), nil
	})
	if err != nil {
		a.logger.Warn("could not drop the records of jobs no longer scheduled from the ledger", "error", err.Error())
	}
}
