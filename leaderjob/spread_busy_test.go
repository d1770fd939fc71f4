package leaderjob_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/internal/spread"
	"github.com/leaderjob/leaderjob/ledger"
)

// heldCompletions is a ledger that cannot take completions until release
// is closed: a write the apiserver is slow to take (the App tries again
// in the background).
type heldCompletions struct {
	ledger.Ledger
	release chan struct{}
}

func (h heldCompletions) Complete(ctx context.Context, c ledger.Completion) error {
	select {
	case <-h.release:
		return h.Ledger.Complete(ctx, c)
	default:
		return fmt.Errorf("%w: the write is still going", ledger.ErrUnavailable)
	}
}

// The previous owner's run has ended but its completion is not written
// yet when the job moves: the new owner cannot tell that claim from a run
// still going, and skips its fire as already_running. The completion, once
// written, shows the run ended before that fire was due, and the new
// owner's catch-up runs it: no fire is lost behind a slow write.
func TestSpreadFireSkippedBehindACompletionIsCaughtUp(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	held := heldCompletions{l, make(chan struct{})}
	f := newFleet("a")
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	cu := leaderjob.WithCatchUp(leaderjob.CatchUpAll(10 * time.Minute))
	var c counted
	a := spreadReplica(t, held, f, "a")
	noErr(t, a.App.Schedule("x", every10s, c.job, cu))
	a.Start()
	awaitOwned(t, a, 1)
	a.Advance(10 * time.Second) // a runs +10s; its completion waits
	other := ""
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		if spread.Assign([]spread.Job{{Name: "x"}}, []string{"a", n})["x"] == n {
			other = n
			break
		}
	}
	f.set("a", other)
	b := spreadReplica(t, l, f, other)
	noErr(t, b.App.Schedule("x", every10s, c.job, cu))
	b.Start()
	awaitOwned(t, b, 1)
	awaitOwned(t, a, 0)
	b.Advance(20 * time.Second) // +10s, +20s: a's claim of +10s is open
	if r := last(b.Results(), "x"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonAlreadyRunning {
		t.Fatalf("the new owner's fire while the old owner's claim is open: %s/%s (%v), want skipped/already_running", r.Outcome, r.Reason, r.Err)
	}
	close(held.release)
	a.Advance(time.Second) // a's completion is written: its run ended at +10s
	awaitCompleted(t, l, "x", t0.Add(10*time.Second))
	b.Advance(10 * time.Second) // +30s: b adopts the job, and catches +20s up
	c.awaitOnce(t, "x", 20*time.Second, "the fire at +20s, skipped while only a's completion was pending,")
	noErr(t, b.Stop())
	noErr(t, a.Stop())
	c.once(t)
}
