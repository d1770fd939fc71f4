package e2e

import (
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// A replica that starts alone in lease mode runs its start-up fires as the
// leader: the scheduler starts once the guard knows the leader, instead of
// skipping them with leader_unknown while the election has not begun. With
// an hourly heartbeat, that start-up run is the only one for an hour.
func TestLoneReplicaRunsItsStartUpFires(t *testing.T) {
	t.Parallel()
	p := startProc(t, newCluster(t, "lone"), "lone-a", "HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H")
	testutil.Eventually(t, 10*time.Second, "a start-up heartbeat", func() bool { return len(p.runs()) > 0 })
	if runs := p.runs(); runs[0].Holder != "lone-a" {
		t.Fatalf("start-up heartbeat held by %q, want lone-a", runs[0].Holder)
	}
	for _, r := range p.snapshot() {
		if r.Msg == "job run" && r.Outcome == "skipped" {
			t.Errorf("a start-up fire was skipped: %s", r.raw)
		}
	}
}
