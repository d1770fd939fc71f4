package leaderjob_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// A claimed fixed-rate job's fires are keyed on the fleet's grid: a
// replica whose clock is 45 s behind (and a few milliseconds off the grid)
// claims the periods the fleet ran under their keys, is refused as handled,
// and runs only the periods the fleet has not.
func TestFixedRateKeysFollowTheFleetsGrid(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("beat", leaderjob.FixedRate(10*time.Second), nop, leaderjob.WithClaim()))
	a.Start()
	a.Advance(time.Minute) // 0s .. 60s
	noErr(t, a.Stop())

	b := replica(t, l, t0.Add(15*time.Second+3*time.Millisecond)) // 45 s behind, off the grid
	noErr(t, b.App.Schedule("beat", leaderjob.FixedRate(10*time.Second), nop, leaderjob.WithClaim()))
	b.Start()
	b.Advance(time.Minute)
	noErr(t, b.Stop())
	for _, r := range b.Results() {
		slot := r.ScheduledAt.Sub(t0)
		if slot%(10*time.Second) != 0 || !strings.HasSuffix(r.Key, r.ScheduledAt.UTC().Format(time.RFC3339Nano)) {
			t.Errorf("fire keyed %s at +%v: not a slot of the fleet's grid", r.Key, slot)
		}
		ranByFleet := slot <= time.Minute
		if ranByFleet && r.Outcome == guard.Ran {
			t.Errorf("the slot +%v, which the fleet ran, ran again", slot)
		}
		if !ranByFleet && r.Outcome != guard.Ran && r.Reason != leaderjob.ReasonNotDue {
			t.Errorf("the new slot +%v: %s/%s, want ran", slot, r.Outcome, r.Reason)
		}
	}
}
