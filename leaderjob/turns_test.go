package leaderjob

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// A scheduled fire waits for the job's catch-up run in flight, and the
// next catch-up run waits for the scheduled fire; the end of the context
// releases every wait.
func TestTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr turns
		ctx := context.Background()
		done, ok := tr.catchUp(ctx)
		if !ok {
			t.Fatal("catchUp refused with nothing pending")
		}
		started := make(chan time.Time, 1)
		go func() {
			finish := tr.scheduled(ctx)
			started <- time.Now()
			time.Sleep(time.Second) // the scheduled run
			finish()
		}()
		synctest.Wait()
		if len(started) != 0 {
			t.Fatal("the scheduled fire started during a catch-up run")
		}
		t0 := time.Now()
		time.Sleep(300 * time.Millisecond)
		done() // the catch-up run ends
		if at := <-started; at.Sub(t0) != 300*time.Millisecond {
			t.Errorf("the scheduled fire started %v after the catch-up run began, want when it ended (300ms)", at.Sub(t0))
		}
		done, ok = tr.catchUp(ctx) // waits for the scheduled run
		if !ok || time.Since(t0) != 1300*time.Millisecond {
			t.Errorf("the next catch-up run began after %v (ok %v), want when the scheduled run ended (1.3s)", time.Since(t0), ok)
		}

		ended, cancel := context.WithCancel(ctx)
		go func() {
			defer tr.scheduled(ended)() // waits for the catch-up run, until its context ends
		}()
		synctest.Wait()
		cancel()
		synctest.Wait()
		if _, ok := tr.catchUp(ended); ok {
			t.Error("catchUp with an ended context went ahead")
		}
		done()
	})
}
