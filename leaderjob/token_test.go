package leaderjob_test

import (
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// Two replicas that both believe they lead with equal epochs (a sidecar
// that gives none, a pod re-created under the same name): the term that
// registered in the ledger last owns the jobs, and the other's claims are
// fenced, not merely raced fire by fire.
func TestLaterTermFencesAnEqualEpoch(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("tick", every10s, nop, leaderjob.WithClaim()))
	a.Start()
	a.Advance(10 * time.Second) // a runs 10s
	b := replica(t, l, t0.Add(10*time.Second+time.Millisecond))
	noErr(t, b.App.Schedule("tick", every10s, nop, leaderjob.WithClaim()))
	b.Start() // registers: a later term, the same epoch
	a.Advance(10 * time.Second)
	b.Advance(10 * time.Second)
	noErr(t, a.Stop())
	noErr(t, b.Stop())
	for _, r := range a.Results() {
		if r.ScheduledAt.After(t0.Add(10*time.Second)) && r.Reason != leaderjob.ReasonFenced {
			t.Errorf("the earlier term's fire at +%v: %s/%s, want skipped/fenced", r.ScheduledAt.Sub(t0), r.Outcome, r.Reason)
		}
	}
	ran := 0
	for _, r := range b.Results() {
		if r.Outcome == guard.Ran {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("the later term ran %d fires, want 1 (+20s)", ran)
	}
}
