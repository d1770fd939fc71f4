package leaderjob_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// One claim far in the future (here by a replica whose clock ran
// centuries ahead) stalls nothing: the next leader with a sane clock runs
// the job's fires on schedule (they are not taken for handled until that
// far instant), its catch-up ends, and the ledger logs the claim it set
// aside as an error.
func TestClaimFarInTheFutureStallsNothing(t *testing.T) {
	sink := &logSink{}
	l := ledger.NewLedger(ledger.NewMemory(), ledger.WithLogger(sink.logger()))
	every10s := leaderjob.Cron("*/10 * * * * *").InZone("UTC")
	policy := leaderjob.WithCatchUp(leaderjob.CatchUpAll(time.Minute))

	wildStart := time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
	wild := replica(t, l, wildStart)
	noErr(t, wild.App.Schedule("tick", every10s, nop, policy))
	wild.Start()
	wild.Advance(10 * time.Second)
	if r := wild.Await("tick"); r.Outcome != guard.Ran {
		t.Fatalf("the wild replica's fire: %s/%s", r.Outcome, r.Reason)
	}
	noErr(t, wild.Stop())

	b := replica(t, l, t0)
	noErr(t, b.App.Schedule("tick", every10s, nop, policy))
	b.Start()
	for i := 1; i <= 3; i++ {
		b.Advance(10 * time.Second)
		r := b.Await("tick")
		if r.Outcome != guard.Ran || !r.ScheduledAt.Equal(t0.Add(time.Duration(i)*10*time.Second)) {
			t.Fatalf("fire %d: %s/%s at %v, want ran at %v", i, r.Outcome, r.Reason, r.ScheduledAt, t0.Add(time.Duration(i)*10*time.Second))
		}
	}
	noErr(t, b.Stop())

	s, err := l.Snapshot(context.Background())
	noErr(t, err)
	js := s.Jobs["tick"]
	if js == nil || !js.Claimed.At.Equal(t0.Add(30*time.Second)) || !js.Completed.At.Equal(t0.Add(30*time.Second)) {
		t.Errorf("the job's record: %+v, want the last fire claimed and completed", js)
	}
	for _, at := range js.Recent {
		if at.After(t0.Add(time.Hour)) {
			t.Errorf("the far claim %v is still among the recent fires %v", at, js.Recent)
		}
	}
	logged := false
	for _, rec := range sink.records(t) {
		if rec.str("level") == "ERROR" && strings.Contains(rec.str("msg"), "set aside") && strings.HasPrefix(rec.str("at"), "2999-01-01") {
			logged = true
		}
	}
	if !logged {
		t.Error("no error logged about the claim set aside")
	}
}
