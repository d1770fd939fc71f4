package wire

import "strings"

// Outcome is how a run ended, as the ledger records it in
// Completion.Outcome and Run.Outcome (the values of package guard's
// Outcome).
type Outcome string

// The outcomes.
const (
	OutcomeRan      Outcome = "ran"      // the job returned nil
	OutcomeFailed   Outcome = "failed"   // the job returned an error
	OutcomePanicked Outcome = "panicked" // the job panicked (recovered)
	OutcomeCanceled Outcome = "canceled" // the run's context ended before the job returned
	OutcomeSkipped  Outcome = "skipped"  // the job was not called; a SkipReason says why
)

// SkipReason says why a run was skipped: a short, stable code (the values
// of package guard's Reason, and of package leaderjob's Reason*
// constants). It appears in Run.Outcome ("skipped: paused") and in the
// metrics and logs. It is an open set: readers accept codes they do not
// know.
type SkipReason string

// The reasons of the guards: the check did not say "leader".
const (
	SkipNotLeader     SkipReason = "not_leader"     // another replica leads, or the term ended
	SkipLeaderUnknown SkipReason = "leader_unknown" // the source named no leader
	SkipStale         SkipReason = "stale"          // the source's answer was too old
	SkipUnavailable   SkipReason = "unavailable"    // the source could not be asked
	SkipForbidden     SkipReason = "forbidden"      // the source refused the replica's credentials
	SkipTimeout       SkipReason = "timeout"        // the check did not answer within its deadline
	SkipReleased      SkipReason = "released"       // the guard has given up leadership for good
	SkipCanceled      SkipReason = "canceled"       // the caller's context ended before the run
	SkipGuardError    SkipReason = "guard_error"    // any other error from the guard
)

// The reasons of the App.
const (
	SkipShuttingDown      SkipReason = "shutting_down"      // the App is draining
	SkipAlreadyRunning    SkipReason = "already_running"    // the job's previous run has not ended
	SkipFenced            SkipReason = "fenced"             // a newer leader has written the ledger
	SkipHandled           SkipReason = "handled"            // the ledger says the fire was claimed or run already
	SkipLedgerUnavailable SkipReason = "ledger_unavailable" // the claim could not be written
	SkipNotDue            SkipReason = "not_due"            // the fleet ran the job less than a period ago
	SkipPaused            SkipReason = "paused"             // an operator paused the job
	SkipUnknownJob        SkipReason = "unknown_job"        // a run request names a job the App does not have
	SkipNotOwner          SkipReason = "not_owner"          // spread mode: another replica owns the job
)

// RunOutcome is the Run.Outcome of a run request that ended with o: o
// itself, or "skipped: <reason>" for a skip with a reason.
func RunOutcome(o Outcome, reason SkipReason) string {
	if o == OutcomeSkipped && reason != "" {
		return string(o) + ": " + string(reason)
	}
	return string(o)
}

// ParseRunOutcome splits a Run.Outcome written by RunOutcome into the
// outcome and the skip reason ("" unless skipped with one). The outcome of
// a run still going ("") is "".
func ParseRunOutcome(s string) (Outcome, SkipReason) {
	o, reason, _ := strings.Cut(s, ": ")
	return Outcome(o), SkipReason(reason)
}
