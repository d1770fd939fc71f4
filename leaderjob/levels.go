package leaderjob

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// recordLevel is the level of a run attempt's record:
//
//   - ran: INFO;
//   - failed, panicked: ERROR;
//   - canceled (cut short by shutdown or lost leadership): WARN;
//   - skipped because another replica leads (a standby's every fire) or
//     owns the job (spread mode), or
//     the guard could not answer: DEBUG — the latter also raise a WARN
//     summary at a bounded rate (skipWarnings);
//   - fenced: WARN (a newer leader deposed this one), but INFO for a job
//     shared out in spread mode (moved), where owners whose views differ
//     for a moment meet in the ledger by design;
//   - other skips (already_running, shutting_down, canceled, released): INFO.
func recordLevel(r Result, spread bool) slog.Level {
	switch r.Outcome {
	case guard.Failed, guard.Panicked:
		return slog.LevelError
	case guard.Canceled:
		return slog.LevelWarn
	case guard.Skipped:
		switch {
		case r.Reason == guard.ReasonNotLeader, r.Reason == ReasonNotOwner:
			return slog.LevelDebug
		case r.Reason == guard.ReasonReleased:
			return slog.LevelInfo
		case r.Reason == ReasonFenced && spread:
			return slog.LevelInfo
		case r.Reason == ReasonFenced:
			return slog.LevelWarn
		case r.Reason == ReasonPaused:
			return slog.LevelInfo
		case r.Reason == ReasonHandled:
			return slog.LevelDebug
		case isSourceProblem(r.Reason):
			return slog.LevelDebug
		}
	}
	return slog.LevelInfo
}

// skipWarnPeriod bounds how often runs skipped for one guard problem are
// reported at WARN.
const skipWarnPeriod = 30 * time.Second

// skipWarnings reports runs skipped because the guard could not answer
// (unavailable, forbidden, timeout, ...) at WARN, at most once per
// skipWarnPeriod for each reason, with how many were skipped since.
type skipWarnings struct {
	mu   sync.Mutex
	last map[guard.Reason]time.Time
	n    map[guard.Reason]int
}

func (s *skipWarnings) note(ctx context.Context, logger *slog.Logger, r Result) {
	if r.Reason == guard.ReasonReleased {
		return
	}
	now := time.Now()
	s.mu.Lock()
	if s.last == nil {
		s.last, s.n = map[guard.Reason]time.Time{}, map[guard.Reason]int{}
	}
	s.n[r.Reason]++
	if at, ok := s.last[r.Reason]; ok && now.Sub(at) < skipWarnPeriod {
		s.mu.Unlock()
		return
	}
	n := s.n[r.Reason]
	s.last[r.Reason], s.n[r.Reason] = now, 0
	s.mu.Unlock()
	attrs := []slog.Attr{slog.String("reason", string(r.Reason)), slog.Int("skipped", n), slog.String("job", r.Job)}
	if r.Err != nil {
		attrs = append(attrs, slog.String("error", r.Err.Error()))
	}
	logger.LogAttrs(ctx, slog.LevelWarn, "runs skipped: the guard cannot answer", attrs...)
}

// isSourceProblem reports a skip because the guard or the ledger could not
// answer: a DEBUG record per attempt and a WARN summary at a bounded rate.
func isSourceProblem(reason guard.Reason) bool {
	return isGuardError(reason) || reason == ReasonLedgerUnavailable
}
