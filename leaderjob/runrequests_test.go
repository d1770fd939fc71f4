package leaderjob_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// Operators make 200 run requests, one every half hour over four days,
// and the control ConfigMap keeps listing every one of them: the leader
// runs each exactly once (it used to forget the done ones beyond the
// newest 64, and run them again), refuses each expired one with a single
// warning, and the ledger holds only the records of the last
// ledger.RunRetention.
func TestRunRequestsListedForeverRunOnce(t *testing.T) {
	sink := &logSink{}
	l := ledger.NewLedger(ledger.NewMemory())
	ctl := newFakeControls()
	var mu sync.Mutex
	runs := map[string]int{} // by key
	job := func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		mu.Lock()
		runs[info.Key]++
		mu.Unlock()
		return nil
	}
	h := replica(t, l, t0, leaderjob.WithControls(ctl), leaderjob.WithLogger(sink.logger()))
	noErr(t, h.App.Schedule("report", leaderjob.Cron("0 0 3 * * *").InZone("UTC"), job))
	h.Start()
	const n, every = 200, 30 * time.Minute
	most := 0
	for i := range n {
		id := fmt.Sprintf("req-%03d", i)
		ctl.set(func(c *leaderjob.Control) {
			c.Runs[id] = leaderjob.RunRequest{Job: "report", By: "ops", At: h.Clock.Now()}
		})
		s := eventually(t, l, id+" done", func(s ledger.State) bool { return s.Runs[id].Done() })
		ctl.settled(t)
		most = max(most, len(s.Runs))
		h.Advance(every)
	}
	ctl.set(func(*leaderjob.Control) {}) // all of them, seen again
	ctl.settled(t)
	noErr(t, h.Stop())

	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		key := fmt.Sprintf("TestRunRequestsListedForeverRunOnce/report/run/req-%03d", i)
		if runs[key] != 1 {
			t.Errorf("%s ran %d times, want once", key, runs[key])
		}
	}
	if want := int(ledger.RunRetention/every) + 1; most > want {
		t.Errorf("the ledger held %d run records, want at most %d (those of the last %v)", most, want, ledger.RunRetention)
	}
	refused := map[string]int{}
	for _, r := range sink.withMsg(t, "run request refused, not run") {
		refused[r.str("request_id")]++
		if !strings.Contains(r.str("error"), "expired") {
			t.Errorf("refusal without the reason: %v", r)
		}
	}
	for id, k := range refused {
		if k != 1 {
			t.Errorf("%s refused %d times in the log, want once", id, k)
		}
	}
	if refused["req-000"] != 1 {
		t.Errorf("the first request, expired long ago, was not reported as refused: %v", refused)
	}
	t.Logf("%d run records at most; %d expired requests refused", most, len(refused))
}
