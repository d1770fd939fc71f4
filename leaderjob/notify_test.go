package leaderjob_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// fakeNotifier records the notices it receives.
type fakeNotifier struct {
	mu      sync.Mutex
	notices []string // kind/job
}

func (f *fakeNotifier) Notify(kind, job, message string) {
	if message == "" {
		panic("a notice without a message")
	}
	f.mu.Lock()
	f.notices = append(f.notices, kind+"/"+job)
	f.mu.Unlock()
}

func (f *fakeNotifier) count(notice string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.notices {
		if s == notice {
			n++
		}
	}
	return n
}

func (f *fakeNotifier) await(t *testing.T, notice string) {
	t.Helper()
	testutil.EventuallyNoError(t, 5*time.Second, "a "+notice+" notice", func() error {
		if f.count(notice) > 0 {
			return nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return fmt.Errorf("notices: %v", f.notices)
	})
}

// The App notices a failure after a success once (not the failures that
// follow), a catch-up run, a pause and a resume acknowledged by the
// leader, and this replica's election.
func TestNotices(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))

	var fail atomic.Bool
	job := func(context.Context) error {
		if fail.Load() {
			return errors.New("boom")
		}
		return nil
	}
	n := &fakeNotifier{}
	a := replica(t, l, t0, leaderjob.WithNotifier(n))
	noErr(t, a.App.Schedule("tick", every10s, job, policy))
	a.Start()
	n.await(t, "LeaderElected/")
	a.Advance(10 * time.Second) // ran
	fail.Store(true)
	a.Advance(30 * time.Second) // failed three times
	if c := n.count("JobFailed/tick"); c != 1 {
		t.Fatalf("%d JobFailed notices for a success then three failures; want 1: %v", c, n.notices)
	}
	fail.Store(false)
	a.Advance(10 * time.Second) // ran
	fail.Store(true)
	a.Advance(10 * time.Second) // failed again after a success
	if c := n.count("JobFailed/tick"); c != 2 {
		t.Fatalf("%d JobFailed notices after the second failure after a success; want 2: %v", c, n.notices)
	}
	if c := n.count("CatchUpRun/tick"); c != 0 {
		t.Fatalf("catch-up notices without a catch-up: %v", n.notices)
	}
	noErr(t, a.Stop())

	// Another replica catches up the fires missed since, and acknowledges
	// a pause and then its end.
	fail.Store(false)
	ctl := newFakeControls()
	m := &fakeNotifier{}
	b := replica(t, l, t0.Add(85*time.Second), leaderjob.WithNotifier(m), leaderjob.WithControls(ctl))
	noErr(t, b.App.Schedule("tick", every10s, job, policy))
	b.Start()
	b.Await("tick")
	m.await(t, "CatchUpRun/tick")
	m.await(t, "LeaderElected/")
	ctl.set(func(c *leaderjob.Control) {
		c.Paused["tick"] = leaderjob.PauseRequest{By: "ops@example.com", Reason: "maintenance", Since: t0}
	})
	m.await(t, "JobPaused/tick")
	ctl.set(func(c *leaderjob.Control) { delete(c.Paused, "tick") })
	m.await(t, "JobResumed/tick")
	noErr(t, b.Stop())
	if c := m.count("JobPaused/tick"); c != 1 {
		t.Fatalf("%d JobPaused notices for one pause: %v", c, m.notices)
	}
	if slices.Contains(m.notices, "JobFailed/tick") {
		t.Fatalf("a JobFailed notice without a failure: %v", m.notices)
	}
}
