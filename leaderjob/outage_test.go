package leaderjob_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// flakyLedger refuses claims while down.
type flakyLedger struct {
	ledger.Ledger
	down atomic.Bool
}

func (l *flakyLedger) Claim(ctx context.Context, cs []ledger.Claim) ([]ledger.ClaimResult, error) {
	if l.down.Load() {
		return nil, errors.Join(ledger.ErrUnavailable, errors.New("the apiserver is down"))
	}
	return l.Ledger.Claim(ctx, cs)
}

// Fires skipped while the ledger could not be written are caught up as
// soon as it can be again, by the same leader: no leader change needed.
func TestLedgerOutageIsCaughtUpWhenTheLedgerIsBack(t *testing.T) {
	l := &flakyLedger{Ledger: ledger.NewLedger(ledger.NewMemory())}
	h := replica(t, l, t0)
	noErr(t, h.App.Schedule("tick", leaderjob.Cron("*/10 * * * * *").InZone("UTC"), nop,
		leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
	h.Start()
	h.Advance(10 * time.Second) // 10s runs
	l.down.Store(true)
	h.Advance(30 * time.Second) // 20s, 30s, 40s: ledger_unavailable
	l.down.Store(false)
	h.Advance(10 * time.Second) // 50s runs, and the catch-up
	noErr(t, h.Stop())
	var unavailable, caughtUp []time.Duration
	for _, r := range h.Results() {
		switch {
		case r.Reason == leaderjob.ReasonLedgerUnavailable:
			unavailable = append(unavailable, r.ScheduledAt.Sub(t0))
		case r.CatchUp && r.Outcome == guard.Ran:
			caughtUp = append(caughtUp, r.ScheduledAt.Sub(t0))
		}
	}
	if len(unavailable) != 3 || len(caughtUp) != 3 {
		t.Fatalf("skipped as ledger_unavailable %v, caught up %v; want 20s, 30s and 40s both", unavailable, caughtUp)
	}
	for i := range unavailable {
		if unavailable[i] != caughtUp[i] {
			t.Errorf("caught up %v, want %v", caughtUp, unavailable)
		}
	}
}
