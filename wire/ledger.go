package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// LedgerFormat is the format version of the Ledger this release reads and
// writes (Ledger.Version). A reader refuses a higher one, which a newer
// release wrote, and a writer leaves it alone.
const LedgerFormat = 1

// ErrNewerFormat: the stored ledger has a format version this release does
// not know (see FormatError). Match it with errors.Is.
var ErrNewerFormat = errors.New("ledger: written by a newer release")

// FormatError reports a ledger of a format newer than LedgerFormat. It
// wraps ErrNewerFormat.
type FormatError struct {
	Version int // the ledger's format version
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%v: format %d, this release reads up to %d", ErrNewerFormat, e.Version, LedgerFormat)
}

// Unwrap returns ErrNewerFormat.
func (e *FormatError) Unwrap() error { return ErrNewerFormat }

// DecodeLedger reads a stored ledger. It reads the format version first: a
// ledger of a newer format is a *FormatError (wrapping ErrNewerFormat),
// whatever the rest holds, so that it is refused rather than misread. Any
// other error is encoding/json's: the data is not a ledger.
func DecodeLedger(data []byte) (Ledger, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Ledger{}, err
	}
	if head.Version > LedgerFormat {
		return Ledger{}, &FormatError{Version: head.Version}
	}
	var l Ledger
	if err := json.Unmarshal(data, &l); err != nil {
		return Ledger{}, err
	}
	return l, nil
}

// EncodeLedger returns the stored encoding of l: compact JSON.
func EncodeLedger(l Ledger) ([]byte, error) { return json.Marshal(l) }

// Ledger is the fleet's ledger of one app, as stored (package ledger's
// State, which adds the fencing rule): for each job the last fire claimed,
// how the last fires ended, and the operators' requests the leader
// acknowledged. Package ledger bounds its size.
type Ledger struct {
	// Version is the format version, LedgerFormat when written by this
	// release; 0 in a ledger never written.
	Version int                  `json:"version"`
	Fence   Epoch                `json:"fence"`
	Jobs    map[string]*JobState `json:"jobs,omitempty"`
	// Paused holds the pauses the leader acknowledged, by job (see Pause).
	Paused map[string]Pause `json:"paused,omitempty"`
	// Runs holds operators' run requests, by request id (see Run).
	Runs map[string]*Run `json:"runs,omitempty"`
	// JobNames are the jobs the last leader scheduled (sorted), whether
	// they claim their fires or not, so that tools can check a name.
	JobNames []string `json:"job_names,omitempty"`
}

// Epoch fences writes: the term of the leader that writes.
type Epoch struct {
	Scope string `json:"scope"` // the leadership source's identity, such as a Lease's UID
	N     int64  `json:"n"`     // its transition count at the start of the term
}

// Claim records that a leader's term runs a fire.
type Claim struct {
	Job     string    `json:"job"`
	At      time.Time `json:"at"`  // the fire's scheduled instant
	Key     string    `json:"key"` // its idempotency key
	Epoch   Epoch     `json:"epoch"`
	ClaimID string    `json:"claim_id"` // unique to the claiming process's term
	Holder  string    `json:"holder"`   // the claiming replica
	CatchUp bool      `json:"catch_up,omitempty"`
	Claimed time.Time `json:"claimed"` // when the claim was made (wall clock)
}

// Completion records how a claimed fire ended.
type Completion struct {
	Job      string        `json:"job"`
	At       time.Time     `json:"at"`
	ClaimID  string        `json:"claim_id"`
	Holder   string        `json:"holder"`
	Outcome  string        `json:"outcome"` // an Outcome: ran, failed, panicked, canceled
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"` // an excerpt, at most ledger.MaxErrorLen bytes
	Ended    time.Time     `json:"ended"`
}

// JobState is what the ledger keeps of one job.
type JobState struct {
	Claimed   *Claim       `json:"claimed,omitempty"`   // the last fire claimed
	Completed *Completion  `json:"completed,omitempty"` // the last fire completed
	Success   *Completion  `json:"success,omitempty"`   // the last fire that ran without error
	History   []Completion `json:"history,omitempty"`   // newest first, at most ledger.HistoryLen
	// Recent holds the instants of the fires claimed lately, newest first,
	// at most ledger.RecentLen: a missed fire older than the last claimed
	// one (caught up after a newer fire was claimed) may still be claimed
	// once, if it is not among them and not older than the oldest kept
	// (a fire before the job's first claim was never missed).
	Recent []time.Time `json:"recent,omitempty"`
}

// Handled reports whether the fire at needs no run as far as the ledger
// tells: it was claimed (the last claim, or one of Recent), or it is older
// than what the ledger remembers. A job with no claim has handled nothing.
func (js *JobState) Handled(at time.Time) bool {
	if js == nil || js.Claimed == nil {
		return false
	}
	if !at.Before(js.Claimed.At) {
		return at.Equal(js.Claimed.At)
	}
	n := len(js.Recent)
	if n == 0 || at.Before(js.Recent[n-1]) {
		// Before the oldest claim remembered: before the job's history
		// began, or beyond what the ledger keeps. Either way not a fire
		// to catch up.
		return true
	}
	for _, t := range js.Recent {
		if t.Equal(at) {
			return true
		}
	}
	return false
}

// Pause is the leader's acknowledgement of an operator's PauseRequest: the
// pause as the operator wrote it (By, Reason, Since) and when and by
// which replica it was acknowledged. While a job is in Ledger.Paused its
// fires are skipped (and claimed, so that no catch-up runs them later).
type Pause struct {
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
	Acked  time.Time `json:"acked"`
	Holder string    `json:"holder"`
}

// Run records an operator's RunRequest (by its request id): the claim of
// the leader that took it, and how it ended. A request id is run once
// fleet-wide.
type Run struct {
	Job       string        `json:"job"`
	By        string        `json:"by,omitempty"`
	Requested time.Time     `json:"requested"`
	Force     bool          `json:"force,omitempty"`
	Holder    string        `json:"holder"`
	ClaimID   string        `json:"claim_id"`
	Epoch     Epoch         `json:"epoch"`
	Claimed   time.Time     `json:"claimed"`
	Outcome   string        `json:"outcome,omitempty"` // "" while running, else as written by RunOutcome
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"duration,omitempty"`
	Ended     time.Time     `json:"ended,omitzero"`
}

// Done reports whether the run request was answered.
func (r *Run) Done() bool { return r != nil && r.Outcome != "" }
