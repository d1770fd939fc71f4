package leaderjob_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// lateAnswer is a ledger that writes the claim of one fire but answers the
// caller only after its deadline: the apiserver took the write, the reply
// came too late.
type lateAnswer struct {
	ledger.Ledger
	at   time.Time
	once sync.Once
}

func (l *lateAnswer) Claim(ctx context.Context, claims []ledger.Claim) ([]ledger.ClaimResult, error) {
	res, err := l.Ledger.Claim(ctx, claims)
	late := false
	for _, c := range claims {
		if c.At.Equal(l.at) {
			l.once.Do(func() { late = true })
		}
	}
	if late {
		return nil, context.DeadlineExceeded
	}
	return res, err
}

// A fire whose claim was written but not answered in time is skipped
// (ledger_unavailable), and its claim in the ledger looks like a run of
// this replica's own term. The catch-up after the outage still runs it,
// once: the claim with the same id succeeds.
func TestUnansweredClaimIsCaughtUp(t *testing.T) {
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	l := &lateAnswer{Ledger: ledger.NewLedger(ledger.NewMemory()), at: t0.Add(10 * time.Second)}
	var c counted
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("tick", every10s, c.job, leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
	a.Start()
	a.Advance(10 * time.Second) // +10s: written, unanswered
	if r := last(a.Results(), "tick"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonLedgerUnavailable {
		t.Fatalf("the fire whose claim was not answered: %s/%s (%v), want skipped/ledger_unavailable", r.Outcome, r.Reason, r.Err)
	}
	a.Advance(10 * time.Second) // +20s: the ledger answers again, and the catch-up follows
	c.awaitOnce(t, "tick", 10*time.Second, "the fire at +10s, claimed but unanswered,")
	noErr(t, a.Stop())
	c.once(t)
}
