package leaderjob

import (
	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob/internal/ops"
	"github.com/leaderjob/leaderjob/leaderjob/internal/tracing"
)

// Label names of the App's series (see package internal/ops).
const (
	labelApp = ops.LabelApp
	labelJob = ops.LabelJob
)

// observeRun counts one run attempt in the App's metrics.
func (a *App) observeRun(r Result) {
	a.metrics.ObserveRun(ops.Run{
		Job: r.Job, Outcome: string(r.Outcome), Reason: string(r.Reason),
		GuardError:    r.Outcome == guard.Skipped && isGuardError(r.Reason),
		CheckDuration: r.CheckDuration, Duration: r.Duration,
	})
}

// observeJob makes a new job's series exist at zero and names its function
// for the run spans.
func (a *App) observeJob(j *job) {
	j.series = a.metrics.Job(j.name, !j.cfg.everyReplica)
	j.spans = a.tracer.Job(j.name, tracing.FunctionName(j.fn, adapters), ops.FireScheduled, ops.FireCatchUp, ops.FireManual)
}

// isGuardError reports whether a skip reason says the guard could not
// answer (as opposed to "another replica leads" or the App's own reasons).
func isGuardError(reason guard.Reason) bool {
	switch reason {
	case guard.ReasonNotLeader, guard.ReasonCanceled, ReasonShuttingDown, ReasonAlreadyRunning,
		ReasonFenced, ReasonHandled, ReasonLedgerUnavailable, ReasonNotDue, ReasonNotOwner:
		return false
	}
	return true
}
