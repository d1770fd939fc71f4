package leaderjob_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// A replica whose Lease already names it while its acquisition is still in
// flight (the watch saw the write first) waits for its term before it
// starts the scheduler: its start-up fire runs, not skipped as not_leader.
func TestStartUpWaitsForItsOwnAcquisition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var checks atomic.Int32
		g := guard.CheckFunc(func(context.Context) (guard.Decision, error) {
			if checks.Add(1) <= 3 {
				return guard.Decision{Holder: "pod-a", Self: "pod-a"}, nil // named, not yet renewed
			}
			return guard.Decision{Leader: true, Holder: "pod-a", Self: "pod-a"}, nil
		})
		var results []leaderjob.Result
		app, err := leaderjob.New("acquiring", leaderjob.WithGuard(g), leaderjob.WithIdentity("pod-a"),
			leaderjob.WithEnv(func(string) (string, bool) { return "", false }),
			leaderjob.WithLogger(leaderjobtest.Logger(t)), leaderjob.WithHTTPAddr(""), leaderjob.WithoutSignals(),
			leaderjob.WithResultHook(func(r leaderjob.Result) { results = append(results, r) }))
		noErr(t, err)
		noErr(t, app.Schedule("beat", leaderjob.FixedRate(time.Hour), nop))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- app.Run(ctx) }()
		time.Sleep(time.Second)
		cancel()
		noErr(t, <-done)
		if len(results) == 0 || results[0].Outcome != guard.Ran {
			t.Fatalf("start-up fire: %+v, want ran", results)
		}
	})
}
