package leaderjob_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// Each release runs its one-shot job once, and the ledger keeps the
// records of the newest ledger.ReleasesKept releases only: 40 deploys do
// not grow it past that.
func TestOnceRecordsOfOldReleasesAreDropped(t *testing.T) {
	l := ledger.NewLedger(ledger.NewMemory())
	for i := range 40 {
		h := replica(t, l, t0.Add(time.Duration(i)*time.Hour), leaderjob.WithVersion(fmt.Sprintf("v%d", i)))
		noErr(t, h.App.Schedule("migrate", leaderjob.Once(), nop))
		h.Start()
		if r := h.Await("migrate"); r.Outcome != guard.Ran {
			t.Fatalf("release v%d: %s/%s, want ran", i, r.Outcome, r.Reason)
		}
		noErr(t, h.Stop())
	}
	s, err := l.Snapshot(context.Background())
	noErr(t, err)
	n := 0
	for name := range s.Jobs {
		if strings.HasPrefix(name, "migrate@") {
			n++
		}
	}
	if n != ledger.ReleasesKept {
		t.Errorf("%d one-shot records after 40 releases, want %d", n, ledger.ReleasesKept)
	}
	if _, ok := s.Jobs["migrate@v39"]; !ok {
		t.Error("the newest release's record was dropped")
	}
}
