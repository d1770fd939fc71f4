package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Control is what operators asked of an App: the document
// kubectl-leaderjob writes under ControlDataKey in the ConfigMap
// ControlConfigMap(app), and the App reads. The App acknowledges the
// requests in its ledger (Ledger.Paused, Ledger.Runs).
type Control struct {
	Paused map[string]PauseRequest `json:"paused,omitempty"` // by job
	Runs   map[string]RunRequest   `json:"runs,omitempty"`   // by request id
}

// PauseRequest pauses a job until it is removed.
type PauseRequest struct {
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
	// CancelRunning also cancels a run of the job that is going when the
	// leader sees the pause; by default a run in flight goes on to its end.
	CancelRunning bool `json:"cancel_running,omitempty"`
}

// RunRequest asks for one run of a job, whatever its schedule. A paused
// job refuses it unless Force is set.
//
// A request id runs at most once, however long the request stays listed:
// the App runs a request only within RunRequestExpiry of its At (see
// Check), and keeps the record of each request it took (Ledger.Runs) for
// longer than that, so that a request listed after its record is gone has
// expired and is refused, never run again.
type RunRequest struct {
	Job string `json:"job"`
	By  string `json:"by,omitempty"`
	// At is when the run was requested (required): the request expires
	// RunRequestExpiry after it.
	At    time.Time `json:"at"`
	Force bool      `json:"force,omitempty"`
}

// RunRequestExpiry is how long a RunRequest may wait for a leader to run
// it, from its At: an App refuses an older one (and one dated further
// ahead of its clock than that). It also bounds how long the App keeps
// the record of a request it ran (package ledger keeps it twice as long,
// for clocks that disagree).
const RunRequestExpiry = 24 * time.Hour

// ErrRunExpired: a RunRequest is refused, never run: it expired, or it has
// no time to expire from (see RunRequest.Check). Match it with errors.Is.
var ErrRunExpired = errors.New("run request expired")

// Check tells whether the request may still run at now: an error wrapping
// ErrRunExpired when it has no At, when it is older than
// RunRequestExpiry, or when it is dated more than RunRequestExpiry after
// now (a clock far off: it would be remembered too long). The message
// says what to do.
func (r RunRequest) Check(now time.Time) error {
	switch {
	case r.At.IsZero():
		return fmt.Errorf("%w: it has no request time (at); request the run again (kubectl leaderjob run)", ErrRunExpired)
	case now.Sub(r.At) > RunRequestExpiry:
		return fmt.Errorf("%w: requested at %s, more than %v ago, and not run since; request the run again if it is still wanted",
			ErrRunExpired, r.At.UTC().Format(time.RFC3339), RunRequestExpiry)
	case r.At.Sub(now) > RunRequestExpiry:
		return fmt.Errorf("%w: requested at %s, more than %v after this replica's clock (%s): check the clocks, and request the run again",
			ErrRunExpired, r.At.UTC().Format(time.RFC3339), RunRequestExpiry, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// DecodeControl reads a Control; empty data is no request. Its error is
// encoding/json's.
func DecodeControl(data []byte) (Control, error) {
	var c Control
	if len(data) == 0 {
		return c, nil
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return Control{}, err
	}
	return c, nil
}

// EncodeControl returns the stored encoding of c: compact JSON.
func EncodeControl(c Control) ([]byte, error) { return json.Marshal(c) }
