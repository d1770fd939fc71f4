package leaderjob_test

import (
	"testing"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/wire"
)

// The skip reasons and outcomes the App writes (in the ledger's run
// records, its logs and metrics) are the codes package wire documents for
// the programs that read them.
func TestReasonsAreTheDocumentedCodes(t *testing.T) {
	for _, tt := range []struct {
		reason guard.Reason
		code   wire.SkipReason
	}{
		{guard.ReasonNotLeader, wire.SkipNotLeader},
		{guard.ReasonLeaderUnknown, wire.SkipLeaderUnknown},
		{guard.ReasonStale, wire.SkipStale},
		{guard.ReasonUnavailable, wire.SkipUnavailable},
		{guard.ReasonForbidden, wire.SkipForbidden},
		{guard.ReasonTimeout, wire.SkipTimeout},
		{guard.ReasonReleased, wire.SkipReleased},
		{guard.ReasonCanceled, wire.SkipCanceled},
		{guard.ReasonGuardError, wire.SkipGuardError},
		{leaderjob.ReasonShuttingDown, wire.SkipShuttingDown},
		{leaderjob.ReasonAlreadyRunning, wire.SkipAlreadyRunning},
		{leaderjob.ReasonFenced, wire.SkipFenced},
		{leaderjob.ReasonHandled, wire.SkipHandled},
		{leaderjob.ReasonLedgerUnavailable, wire.SkipLedgerUnavailable},
		{leaderjob.ReasonNotDue, wire.SkipNotDue},
		{leaderjob.ReasonPaused, wire.SkipPaused},
	} {
		if string(tt.reason) != string(tt.code) {
			t.Errorf("reason %q, documented as %q", tt.reason, tt.code)
		}
	}
	for _, tt := range []struct {
		outcome guard.Outcome
		code    wire.Outcome
	}{
		{guard.Ran, wire.OutcomeRan},
		{guard.Failed, wire.OutcomeFailed},
		{guard.Panicked, wire.OutcomePanicked},
		{guard.Canceled, wire.OutcomeCanceled},
		{guard.Skipped, wire.OutcomeSkipped},
	} {
		if string(tt.outcome) != string(tt.code) {
			t.Errorf("outcome %q, documented as %q", tt.outcome, tt.code)
		}
	}
}
