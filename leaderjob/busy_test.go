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
// are handled: the next leader's catch-up does not run them.
func TestSkippedAsAlreadyRunningIsNotCaughtUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := ledger.NewLedger(ledger.NewMemory())
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		schedule := func(app *leaderjob.App) {
			noErr(t, app.Schedule("slow", leaderjob.Cron("* * * * * *").InZone("UTC"), func(context.Context) error {
				time.Sleep(2500 * time.Millisecond)
				return nil
			}, leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))))
		}
		skipped := map[time.Time]bool{}
		for _, r := range runFor(t, l, 10*time.Second, schedule) {
			if r.Reason == leaderjob.ReasonAlreadyRunning {
				skipped[r.ScheduledAt] = true
			}
		}
		if len(skipped) < 4 {
			t.Fatalf("%d fires skipped as already_running in 10 s, want several", len(skipped))
		}
		for _, r := range runFor(t, l, 3*time.Second, schedule) {
			if r.CatchUp && r.Outcome != guard.Skipped && skipped[r.ScheduledAt] {
				t.Errorf("the next leader caught up the fire at %s, which was skipped as already_running", r.ScheduledAt.Format(time.TimeOnly))
			}
		}
	})
}
