package leaderjob_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// losingLedger ends the guard's term right after the first claim is
// written: the reply of a slow claim comes back to a replica that was
// deposed meanwhile.
type losingLedger struct {
	ledger.Ledger
	once sync.Once
	lose func()
}

func (l *losingLedger) Claim(ctx context.Context, cs []ledger.Claim) ([]ledger.ClaimResult, error) {
	res, err := l.Ledger.Claim(ctx, cs)
	l.once.Do(l.lose)
	return res, err
}

// A term that ends while its claim is written does not call the job: the
// run checks its term again after the claim. The claim is left open, so
// that the next leader runs the fire under the same key.
func TestTermEndedDuringTheClaimDoesNotRun(t *testing.T) {
	shared := ledger.NewLedger(ledger.NewMemory())
	var h *leaderjobtest.Harness
	l := &losingLedger{Ledger: shared, lose: func() { h.Guard.LoseLeadership() }}
	h = replica(t, l, t0)
	calls := 0
	noErr(t, h.App.Schedule("tick", leaderjob.Cron("*/10 * * * * *").InZone("UTC"),
		func(context.Context) error { calls++; return nil }, leaderjob.WithClaim()))
	h.Start()
	h.Advance(10 * time.Second)
	r := h.Await("tick")
	noErr(t, h.Stop())
	if calls != 0 || r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader {
		t.Fatalf("%d calls, result %s/%s (%v); want no call, skipped/not_leader", calls, r.Outcome, r.Reason, r.Err)
	}
	s, err := shared.Snapshot(context.Background())
	noErr(t, err)
	js := s.Jobs["tick"]
	if js == nil || js.Claimed == nil || !js.Claimed.At.Equal(r.ScheduledAt) {
		t.Fatalf("ledger %+v: want the fire at %s claimed", js, r.ScheduledAt)
	}
	if js.Completed != nil && js.Completed.At.Equal(r.ScheduledAt) {
		t.Fatalf("the fire at %s was recorded as completed (%s): the next leader would not run it", r.ScheduledAt, js.Completed.Outcome)
	}
}
