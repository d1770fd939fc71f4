package leaderjob

import (
	"log/slog"
	"testing"

	"github.com/leaderjob/leaderjob/guard"
)

// The level of each kind of run record: what needs a person is WARN or
// above, a standby's or a non-owner's routine skips are DEBUG, and a
// fenced fire is WARN (a deposed leader) except for a spread job, whose
// owners meet in the ledger while it moves.
func TestRecordLevel(t *testing.T) {
	skipped := func(r guard.Reason) Result { return Result{Outcome: guard.Skipped, Reason: r} }
	for _, c := range []struct {
		r      Result
		spread bool
		want   slog.Level
	}{
		{Result{Outcome: guard.Ran}, false, slog.LevelInfo},
		{Result{Outcome: guard.Failed}, false, slog.LevelError},
		{Result{Outcome: guard.Panicked}, true, slog.LevelError},
		{Result{Outcome: guard.Canceled}, false, slog.LevelWarn},
		{skipped(guard.ReasonNotLeader), false, slog.LevelDebug},
		{skipped(ReasonNotOwner), true, slog.LevelDebug},
		{skipped(ReasonFenced), false, slog.LevelWarn},
		{skipped(ReasonFenced), true, slog.LevelInfo},
		{skipped(ReasonHandled), true, slog.LevelDebug},
		{skipped(ReasonAlreadyRunning), true, slog.LevelInfo},
		{skipped(guard.ReasonUnavailable), false, slog.LevelDebug},
	} {
		if got := recordLevel(c.r, c.spread); got != c.want {
			t.Errorf("%s/%s, spread %v: %v, want %v", c.r.Outcome, c.r.Reason, c.spread, got, c.want)
		}
	}
}
