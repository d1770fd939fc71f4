package leaderjob_test

import (
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// The catch-up cap holds across passes and leaders: of 300 missed fires a
// new leader runs the newest 100, oldest first, and records the older ones
// as given up, so that neither its next pass nor the next leader runs them.
func TestCatchUpCapHoldsAcrossPassesAndLeaders(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	everySecond := leaderjob.Cron("* * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Hour))

	a := replica(t, l, t0)
	noErr(t, a.App.Schedule("tick", everySecond, nop, policy))
	a.Start()
	a.Advance(time.Second)
	noErr(t, a.Stop())

	caughtUp := func(rs []leaderjob.Result) (n int, oldest time.Time) {
		for _, r := range rs {
			if r.CatchUp && r.Outcome == guard.Ran {
				if n == 0 || r.ScheduledAt.Before(oldest) {
					oldest = r.ScheduledAt
				}
				n++
			}
		}
		return n, oldest
	}
	// Nobody runs for 300 s.
	b := replica(t, l, t0.Add(301*time.Second+time.Millisecond))
	noErr(t, b.App.Schedule("tick", everySecond, nop, policy))
	b.Start()
	b.Advance(time.Second)
	noErr(t, b.Stop())
	n, oldest := caughtUp(b.Results())
	if n != 100 || !oldest.Equal(t0.Add(202*time.Second)) {
		t.Fatalf("the new leader caught up %d fires from +%v, want the newest 100 (from +202s)", n, oldest.Sub(t0))
	}

	c := replica(t, l, t0.Add(302*time.Second+time.Millisecond))
	noErr(t, c.App.Schedule("tick", everySecond, nop, policy))
	c.Start()
	c.Advance(time.Second)
	noErr(t, c.Stop())
	if n, oldest := caughtUp(c.Results()); n != 0 {
		t.Errorf("the next leader caught up %d fires from +%v, want none: they were given up", n, oldest.Sub(t0))
	}
}
