package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/ledger"
)

// adoption is a job's fencing token in spread mode, for one ownership of
// it by this replica (shares.generation).
type adoption struct {
	gen  uint64          // a spread job's ownership (shares.generation)
	term <-chan struct{} // a job with its own guard: that guard's term
	tok  int64
}

// tokenFor is the fencing token an attempt claims with: its term's
// (Register: the leader takes every job), or in spread mode the job's own
// (Adopt), whichever its guard. A catch-up attempt records nothing when the job is busy
// elsewhere; a scheduled one records its fire as handled.
func (a *App) tokenFor(ctx context.Context, at *attempt, d guard.Decision) (int64, error) {
	if a.spread == nil {
		return a.token(ctx, d)
	}
	// In spread mode every claimed job has tokens of its own, the jobs
	// with their own guard too: a term's registration would take every
	// job from its owner.
	fire := at.info.ScheduledAt
	if at.kind == catchUpFire || at.kind == manualFire {
		fire = time.Time{}
	}
	tok, fresh, err := a.adopt(ctx, at.job, fire, d)
	if fresh && at.kind != catchUpFire && !at.job.catchUp.IsOff() {
		a.startCatchUp() // the job's fires missed while it was held elsewhere
	}
	return tok, err
}

// adopt returns j's fencing token for this replica's current ownership
// of it, adopting the job in the ledger on first use (ledger.State.Adopt):
// ErrBusy while another live process's run of it may still go on (fire,
// when not zero, is then recorded as handled). fresh reports a new
// adoption.
//
// A job with its own guard (not spread) is adopted once per term of that
// guard (d's), as a leader registers, and not held by another process's
// claim: its guard's terms order its runs.
func (a *App) adopt(ctx context.Context, j *job, fire time.Time, d guard.Decision) (tok int64, fresh bool, err error) {
	spread := a.spreads(j)
	gen, running := a.spread.generation(j.name), a.spread.running
	if !spread {
		gen, running = 0, nil
	}
	j.adoptMu.Lock()
	defer j.adoptMu.Unlock()
	if j.adopted.tok != 0 && j.adopted.gen == gen && (spread || j.adopted.term == d.Lost) {
		return j.adopted.tok, false, nil
	}
	prev := j.adopted.tok // this process's last token for the job, if any
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	name := a.ledgerJob(j)
	var busy bool
	err = a.fires.ledger.Update(ctx, func(s *ledger.State) (bool, error) {
		if js := s.Jobs[name]; prev != 0 && js != nil && js.Fence == prev && !s.Fenced(name, prev) {
			// Nobody adopted the job since this process last did (it
			// moved away and back): keep that token, so that a run of
			// it still going here is not fenced out of its completion.
			tok, busy = prev, false
			return false, nil
		}
		t, err := s.Adopt(name, a.self, fire, a.clock.Now(), running)
		switch {
		case errors.Is(err, ledger.ErrBusy):
			busy = true
			return !fire.IsZero(), nil
		case err != nil:
			return false, err
		}
		tok, busy = t, false
		return true, nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("adopting the job in the ledger: %w", err)
	}
	if busy {
		return 0, false, fmt.Errorf("%w (its previous owner is still live)", ledger.ErrBusy)
	}
	j.adopted = adoption{gen: gen, term: d.Lost, tok: tok}
	a.logger.Debug("job adopted in the ledger", slog.String("job", j.name), slog.Int64("token", tok))
	return tok, true, nil
}

// forgetAdoption drops j's token tok (a later owner adopted the job), so
// that the next attempt adopts it again while this replica owns it.
func (j *job) forgetAdoption(tok int64) {
	j.adoptMu.Lock()
	defer j.adoptMu.Unlock()
	if j.adopted.tok == tok {
		// No generation matches: the next attempt goes to the ledger,
		// which has a later fence than tok.
		j.adopted.gen = ^uint64(0)
	}
}
