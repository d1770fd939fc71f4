package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/gitrev"
)

// buildRevision builds examples/monolith as it was at rev, in a worktree
// of the repository, and returns the binary.
func buildRevision(t *testing.T, rev string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "old")
	remove, err := gitrev.Worktree(rev, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remove)
	bin := filepath.Join(t.TempDir(), "monolith-old")
	cmd := exec.Command("go", "build", "-o", bin, "./examples/monolith")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the example at %s: %v\n%s", rev, err, out)
	}
	return bin
}

// An upgrade from the release LEADERJOB_UPGRADE_FROM names to this one,
// the ledger spread over four ConfigMaps and back to one, and a roll back,
// as rolling updates do them: three replicas, each stopped (SIGTERM) and
// replaced, the leader first, so that leadership goes from the old release
// to the new one, between spread and single ledgers, and back, while the
// fleet is mixed. With a per-second cron job that catches
// up all missed fires within a minute, every fire runs exactly once,
// counted by scheduled time across all processes of both releases.
func TestUpgradeAndRollBack(t *testing.T) {
	rev := os.Getenv(gitrev.EnvUpgradeFrom)
	if rev == "" {
		t.Skipf("set %s to a git revision (such as a release tag) to upgrade from it and roll back", gitrev.EnvUpgradeFrom)
	}
	t.Parallel()
	old := buildRevision(t, rev)
	c := newCluster(t, "upgrade")
	env := []string{"DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=all:1m",
		"HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H"}
	var all []*proc
	start := func(bin, name string, extra ...string) *proc {
		p := startProcOf(t, bin, c, name, append(append([]string(nil), env...), extra...)...)
		all = append(all, p)
		return p
	}
	fleet := []*proc{start(old, "old-a"), start(old, "old-b"), start(old, "old-c")}
	// replace stops the fleet's leader, then the others, each replaced by a
	// replica of bin.
	replace := func(bin, prefix string, extra ...string) {
		for i := range 3 {
			l := dailyLeader(t, fleet, time.Now().Add(-time.Second), crashBound+10*time.Second)
			time.Sleep(2 * time.Second)
			l.signal(t, syscall.SIGTERM)
			l.waitExit(t, 30*time.Second)
			next := start(bin, prefix+string(rune('a'+i)), extra...)
			fleet = append(without2(fleet, l), next)
		}
	}
	dailyLeader(t, fleet, time.Time{}, 30*time.Second)
	replace(monolith(t), "new-")
	// Spread over four ConfigMaps, and back to one before rolling back,
	// as the README says.
	replace(monolith(t), "spread-", "LEADERJOB_LEDGER_SHARDS=4")
	replace(monolith(t), "one-", "LEADERJOB_LEDGER_SHARDS=1")
	time.Sleep(3 * time.Second)
	replace(old, "back-")
	time.Sleep(6 * time.Second)
	end := time.Now().Add(-2 * time.Second).Truncate(time.Second)

	lost, doubled, catchUps, reruns, first := countFires(t, all, end)
	t.Logf("%s → this release → spread over 4 → over 1 → %s, 15 replicas replaced: fires from %s to %s: %d lost, %d doubled, %d re-run after a lost completion, %d run by catch-up",
		rev, rev, first.Format(time.TimeOnly), end.Format(time.TimeOnly), len(lost), doubled, reruns, catchUps)
	if len(lost) > 0 {
		t.Errorf("%d fires never ran: %v", len(lost), lost)
	}
}
