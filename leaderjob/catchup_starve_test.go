package leaderjob_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// A new leader's catch-up of one frequent job holds no other job's fires:
// while it runs a minute of missed per-second fires, 0.4 s each,
// another claimed job's scheduled fires start on time, and the frequent
// job's own scheduled fires start as soon as the catch-up run in flight
// ends, never skipped as already_running (they used to wait for the whole
// catch-up, up to 30 s).
func TestCatchUpHoldsNoScheduledFire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := ledger.NewLedger(ledger.NewMemory())
		start := time.Now().Truncate(time.Second).Add(time.Second)
		time.Sleep(time.Until(start))
		// The previous leader last ran "busy" a minute ago.
		ago := start.Add(-time.Minute)
		claim := ledger.Claim{Job: "busy", At: ago, Key: "k", Epoch: ledger.Epoch{Scope: "s", N: 1}, ClaimID: "old/0", Holder: "old", Claimed: ago}
		if _, err := l.Claim(ctx, []ledger.Claim{claim}); err != nil {
			t.Fatal(err)
		}
		if err := l.Complete(ctx, ledger.Completion{Job: "busy", At: ago, ClaimID: "old/0", Holder: "old", Outcome: "ran", Ended: ago}); err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		lag := map[string]time.Duration{} // the largest lag of a scheduled fire, by job
		record := func(ctx context.Context) {
			info, _ := leaderjob.RunInfoFrom(ctx)
			if info.CatchUp {
				return
			}
			mu.Lock()
			lag[info.Job] = max(lag[info.Job], time.Since(info.ScheduledAt))
			mu.Unlock()
		}
		everySecond := leaderjob.Cron("* * * * * *").InZone("UTC")
		results := runFor(t, l, 20*time.Second, func(app *leaderjob.App) {
			noErr(t, app.Schedule("busy", everySecond, func(ctx context.Context) error {
				record(ctx)
				time.Sleep(400 * time.Millisecond)
				return nil
			}, leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
			noErr(t, app.Schedule("other", everySecond, func(ctx context.Context) error {
				record(ctx)
				return nil
			}, leaderjob.WithClaim()))
		})

		mu.Lock()
		defer mu.Unlock()
		catchUps, skipped := 0, 0
		scheduled := map[string]int{} // scheduled fires run, by job
		for _, r := range results {
			if r.CatchUp && r.Outcome == guard.Ran {
				catchUps++
			}
			if !r.CatchUp && r.Outcome == guard.Ran {
				scheduled[r.Job]++
			}
			if r.Reason == leaderjob.ReasonAlreadyRunning {
				skipped++
			}
		}
		if catchUps < 10 {
			t.Fatalf("%d catch-up runs in 20 s; want the catch-up going while the scheduled fires run", catchUps)
		}
		if scheduled["other"] < 19 || scheduled["busy"] < 19 {
			t.Errorf("scheduled fires run in 20 s: other %d, busy %d; want every one (19 or 20)", scheduled["other"], scheduled["busy"])
		}
		if lag["other"] > time.Second || lag["busy"] > time.Second {
			t.Errorf("largest lag of a scheduled fire: other %v, busy %v; want at most 1s", lag["other"], lag["busy"])
		}
		if skipped > 0 {
			t.Errorf("%d fires skipped as already_running behind a catch-up run", skipped)
		}
	})
}
