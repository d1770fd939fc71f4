package leaderjob_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/ledger"
)

// runFor runs an App of a fleet sharing l, leading from the start, for d,
// and returns its Results.
func runFor(t *testing.T, l ledger.Ledger, d time.Duration, schedule func(*leaderjob.App)) []leaderjob.Result {
	t.Helper()
	var mu sync.Mutex
	var results []leaderjob.Result
	app, err := leaderjob.New("busy",
		leaderjob.WithGuard(guardtest.Leader()), leaderjob.WithLedger(l),
		leaderjob.WithEnv(func(string) (string, bool) { return "", false }),
		leaderjob.WithLogger(leaderjobtest.Logger(t)), leaderjob.WithHTTPAddr(""), leaderjob.WithoutSignals(),
		leaderjob.WithResultHook(func(r leaderjob.Result) { mu.Lock(); results = append(results, r); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	schedule(app)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- app.Run(ctx) }()
	time.Sleep(d)
	cancel()
	noErr(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	return results
}

// Fires a leader skipped as already_running (the job overran its period)
// are handled: the next leader's catch-up does not run them. The fire whose
// run the leader's shutdown cut short, claimed before those, is run again
// (the at-least-once case reaches every claim, not only the newest).
func TestSkippedAsAlreadyRunningIsNotCaughtUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ledger.NewLedger(ledger.NewMemory())
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		start := time.Now()
		schedule := func(app *leaderjob.App) {
			noErr(t, app.Schedule("slow", leaderjob.Cron("* * * * * *").InZone("UTC"), func(ctx context.Context) error {
				select {
				case <-time.After(2500 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}, leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
		}
		skipped := map[time.Time]bool{}
		var cut time.Time
		for _, r := range runFor(t, l, 11500*time.Millisecond, schedule) {
			switch {
			case r.Reason == leaderjob.ReasonAlreadyRunning:
				skipped[r.ScheduledAt] = true
			case r.Outcome == guard.Canceled:
				cut = r.ScheduledAt
			}
		}
		if len(skipped) < 4 || !cut.Equal(start.Add(10*time.Second)) {
			t.Fatalf("%d fires skipped as already_running, the run cut short at +%v; want several, and +10s", len(skipped), cut.Sub(start))
		}
		rerun := false
		for _, r := range runFor(t, l, 3*time.Second, schedule) {
			if r.CatchUp && r.Outcome != guard.Skipped && skipped[r.ScheduledAt] {
				t.Errorf("the next leader caught up the fire at +%v, which was skipped as already_running", r.ScheduledAt.Sub(start))
			}
			if r.CatchUp && r.Outcome == guard.Ran && r.ScheduledAt.Equal(cut) {
				rerun = true
			}
		}
		if !rerun {
			t.Errorf("the fire at +%v, cut short by the shutdown, was not run again", cut.Sub(start))
		}
	})
}
