package lease

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/utils/clock"
)

// term is one uninterrupted stretch of "leader" answers.
type term struct {
	lost  chan struct{}
	epoch int64
	scope string // the Lease's UID
}

// tenure is this replica's hold on the Lease, as the elector and the lock
// report it, and the freshness rule that turns it into terms: a term is open
// while the elector leads and the last successful renewal was sent less
// than the renew deadline ago. A timer ends the term when the renewal goes
// stale.
//
// Its methods are called with the guard's lock held. The stale timer calls
// recheck, which must take that lock and call reconcile.
type tenure struct {
	clock         clock.WithDelayedExecution
	renewDeadline time.Duration
	log           *slog.Logger
	desc          string
	recheck       func()
	opened        func(epoch int64) // called (lock held) when a term opens; may be nil

	leading    context.Context // the elector's leading context, nil when not leading
	holding    bool            // our last successful write named us holder
	inflight   bool            // a write is in flight
	lastRenew  time.Time       // when our last successful write that named us holder was sent
	renewEpoch int64           // leaseTransitions of that write
	renewScope string          // the Lease's UID in that write
	term       *term           // the open term, nil when none
	staleTimer clock.Timer
}

// renewed records a successful write that named this replica holder, sent
// at sent, with the Lease's leaseTransitions after it.
func (t *tenure) renewed(sent time.Time, epoch int64, scope string) {
	t.holding, t.lastRenew, t.renewEpoch, t.renewScope = true, sent, epoch, scope
}

// dropped records that the Lease no longer names this replica.
func (t *tenure) dropped() { t.holding, t.lastRenew = false, time.Time{} }

// busy reports whether the elector leads, holds the Lease or is writing:
// it must not be interrupted then.
func (t *tenure) busy() bool { return t.leading != nil || t.holding || t.inflight }

// reconcile opens or ends the term from the current state; released is
// whether the guard has been released.
func (t *tenure) reconcile(released bool) {
	age := t.clock.Since(t.lastRenew)
	leading := t.leading != nil && t.leading.Err() == nil
	fresh := !released && leading && !t.lastRenew.IsZero() && age < t.renewDeadline
	switch {
	case fresh && t.term == nil:
		t.term = &term{lost: make(chan struct{}), epoch: t.renewEpoch, scope: t.renewScope}
		t.log.Info("leading", slog.String("lease", t.desc), slog.Int64("epoch", t.renewEpoch))
		if t.opened != nil {
			t.opened(t.renewEpoch)
		}
	case !fresh && t.term != nil:
		close(t.term.lost)
		attrs := []slog.Attr{slog.String("lease", t.desc), slog.Int64("epoch", t.term.epoch)}
		level := slog.LevelWarn
		switch {
		case released:
			level = slog.LevelInfo
			attrs = append(attrs, slog.String("why", "released"))
		case !leading:
			attrs = append(attrs, slog.String("why", "the elector stopped leading"))
		case t.lastRenew.IsZero():
			attrs = append(attrs, slog.String("why", "the Lease names another holder"))
		default:
			attrs = append(attrs, slog.String("why", fmt.Sprintf("not renewed for %v (renew deadline %v)",
				age.Round(time.Millisecond), t.renewDeadline)))
		}
		t.log.LogAttrs(context.Background(), level, "leadership ended", attrs...)
		t.term = nil
	}
	if fresh {
		wait := t.renewDeadline - age
		if t.staleTimer == nil {
			t.staleTimer = afterFunc(t.clock, wait, t.recheck)
		} else {
			t.staleTimer.Reset(wait)
		}
	}
}

// stop stops the stale timer.
func (t *tenure) stop() {
	if t.staleTimer != nil {
		t.staleTimer.Stop()
	}
}
