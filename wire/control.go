package wire

import (
	"encoding/json"
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
type RunRequest struct {
	Job   string    `json:"job"`
	By    string    `json:"by,omitempty"`
	At    time.Time `json:"at"`
	Force bool      `json:"force,omitempty"`
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
