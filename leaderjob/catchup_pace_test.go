package leaderjob_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// slowBackend is a ledger backend whose writes take a while, as a busy
// apiserver's do, and that counts them.
type slowBackend struct {
	ledger.Backend
	delay  time.Duration
	stores atomic.Int64
}

func (b *slowBackend) Store(ctx context.Context, s ledger.State, version string) error {
	b.stores.Add(1)
	time.Sleep(b.delay)
	return b.Backend.Store(ctx, s, version)
}

// A catch-up keeps pace with a slow ledger: with every write taking
// 300 ms, a new leader catches up 40 missed fires of a per-second job
// (20 ms each) within 30 s, while the job's scheduled fires all run. Each
// catch-up fire is claimed while the previous one's completion is written,
// in one write (the completion lingers for it); claim and completion in
// turn took 0.6 s a fire, and the scheduled fires' as long again, so that
// the catch-up ran about one fire in two seconds and fell behind its
// window.
func TestCatchUpKeepsPaceWithASlowLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := &slowBackend{Backend: ledger.NewMemory(), delay: 300 * time.Millisecond}
		l := ledger.NewLedger(b)
		start := time.Now().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(start))
		ago := start.Add(-40 * time.Second) // the previous leader's last run
		claim := ledger.Claim{Job: "tick", At: ago, Key: "k", Epoch: ledger.Epoch{Scope: "s", N: 1}, ClaimID: "old/0", Holder: "old", Claimed: ago}
		if _, err := l.Claim(ctx, []ledger.Claim{claim}); err != nil {
			t.Fatal(err)
		}
		if err := l.Complete(ctx, ledger.Completion{Job: "tick", At: ago, ClaimID: "old/0", Holder: "old", Outcome: "ran", Ended: ago}); err != nil {
			t.Fatal(err)
		}
		b.stores.Store(0)

		results := runFor(t, l, 30*time.Second, func(app *leaderjob.App) {
			noErr(t, app.Schedule("tick", leaderjob.Cron("* * * * * *").InZone("UTC"), func(ctx context.Context) error {
				time.Sleep(20 * time.Millisecond)
				return nil
			}, leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
		})

		ran := map[time.Time]int{}
		catchUps, scheduled := 0, 0
		for _, r := range results {
			if r.Outcome != guard.Ran {
				t.Errorf("%s: %s (%v), want every fire run", r.ScheduledAt.Format(time.TimeOnly), r.Outcome, r.Err)
				continue
			}
			ran[r.ScheduledAt]++
			if r.CatchUp {
				catchUps++
			} else {
				scheduled++
			}
		}
		for at, n := range ran {
			if n > 1 {
				t.Errorf("the fire of %s ran %d times", at.Format(time.TimeOnly), n)
			}
		}
		t.Logf("in 30 s: %d catch-up runs, %d scheduled runs, %d ledger writes", catchUps, scheduled, b.stores.Load())
		if catchUps < 39 {
			t.Errorf("%d of the 39 missed fires caught up in 30 s; want every one", catchUps)
		}
		if scheduled < 29 {
			t.Errorf("%d scheduled fires ran in 30 s, want every one (29 or 30)", scheduled)
		}
		if w := b.stores.Load(); w > int64(catchUps+scheduled)*5/4 {
			t.Errorf("%d ledger writes for %d runs; want about one a run (a completion shares its write with the next claim)", w, catchUps+scheduled)
		}
		time.Sleep(time.Second) // a write that shutdown cut short ends
	})
}
