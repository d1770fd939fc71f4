package leaderjob

import (
	"context"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// RunInfo describes the run a job's context belongs to.
type RunInfo struct {
	// Job is the job's registered name.
	Job string
	// RunID identifies this run attempt; it appears as run_id in the log.
	RunID string
	// ScheduledAt is the fire time of this run: the cron instant for cron
	// schedules, the moment the scheduler fired for the others, the moment
	// of the call for App.Trigger.
	ScheduledAt time.Time
	// Decision is the guard's answer that let this run go ahead: the
	// leader's identity and, when the source has one, the epoch to fence
	// writes with (see guard.Decision).
	Decision guard.Decision
	// Key is the fire's idempotency key: the same on every replica and for
	// every re-run of the fire ("<app>/<job>/<scheduled time, UTC>"; for a
	// one-shot job "<app>/<job>@<version>"; for App.Trigger the call's
	// time). A job that writes can use it as a unique key, so that the one
	// at-least-once case (a fire whose first run died mid-way and is run
	// again, CatchUp true) has its effect once.
	Key string
	// CatchUp reports a catch-up run: a missed fire run late by a new
	// leader (ScheduledAt is the fire's original time), or a re-run of a
	// fire whose first run never completed.
	CatchUp bool
}

type runInfoKey struct{}

// RunInfoFrom returns the RunInfo of the run ctx belongs to; ok is false
// outside a run.
func RunInfoFrom(ctx context.Context) (info RunInfo, ok bool) {
	p, ok := ctx.Value(runInfoKey{}).(*RunInfo)
	if !ok {
		return RunInfo{}, false
	}
	return *p, true
}

// JobName returns the name of the job ctx runs, or "" outside a run.
func JobName(ctx context.Context) string {
	info, _ := RunInfoFrom(ctx)
	return info.Job
}

// Epoch returns the fencing epoch of the leadership term the run belongs to;
// ok is false outside a run or when the guard has no epoch.
func Epoch(ctx context.Context) (epoch int64, ok bool) {
	info, found := RunInfoFrom(ctx)
	return info.Decision.Epoch, found && info.Decision.HasEpoch
}
