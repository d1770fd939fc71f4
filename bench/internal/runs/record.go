// Package runs reads the run records that every contender of the
// comparison writes, and computes the figures of a fault from them: fires
// lost and doubled, overlapping runs, fire lag, and the time to the next
// run after the fault.
//
// The record is the one leaderjob writes for each run attempt (see
// docs/logs.md): a JSON log line with msg "job run", the job, the outcome,
// scheduled_at (the fire's cron slot), duration (nanoseconds) and the time
// it was logged, which is when the run ended. The other contenders write
// the same fields with log/slog, so one parser reads them all.
package runs

import (
	"bytes"
	"encoding/json"
	"time"
)

// Msg is the message of a run record. StartedMsg is that of the line the
// comparison's job body writes when a run starts (bench/cmd/contender).
const (
	Msg        = "job run"
	StartedMsg = "job started"
)

// Record is the part of a JSON log line that the comparison reads.
type Record struct {
	Time        time.Time     `json:"time"`
	Level       string        `json:"level"`
	Msg         string        `json:"msg"`
	Error       string        `json:"error"`
	Job         string        `json:"job"`
	Outcome     string        `json:"outcome"`
	Reason      string        `json:"reason"`
	Duration    time.Duration `json:"duration"`
	ScheduledAt time.Time     `json:"scheduled_at"`
	CatchUp     bool          `json:"catch_up"`
}

// Parse reads one log line. It reports false for a line that is not a JSON
// object (start-up text, a panic, client-go's klog lines).
func Parse(line []byte) (Record, bool) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return Record{}, false
	}
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, false
	}
	return r, true
}

// Called reports whether the record is of an attempt that called the job:
// it ran, failed, panicked or was cut short (canceled). Skips are not runs.
func (r Record) Called() bool {
	if r.Msg != Msg {
		return false
	}
	switch r.Outcome {
	case "ran", "failed", "panicked", "canceled":
		return true
	}
	return false
}

// Run is one call of the job by one replica.
type Run struct {
	Replica string    `json:"replica"`
	Job     string    `json:"job"`
	Slot    time.Time `json:"slot"` // the fire: its scheduled time
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Outcome string    `json:"outcome"`
	CatchUp bool      `json:"catch_up,omitempty"`
}

// RunOf turns a record that called the job into the run of replica. The
// record is logged when the run ends, so the run started its duration
// before the record's time.
func RunOf(replica string, r Record) (Run, bool) {
	if !r.Called() || r.ScheduledAt.IsZero() || r.Time.IsZero() {
		return Run{}, false
	}
	return Run{
		Replica: replica,
		Job:     r.Job,
		Slot:    r.ScheduledAt,
		Start:   r.Time.Add(-r.Duration),
		End:     r.Time,
		Outcome: r.Outcome,
		CatchUp: r.CatchUp,
	}, true
}

// Completed reports whether the run was not cut short (by shutdown or lost
// leadership: outcome canceled).
func (r Run) Completed() bool { return r.Outcome != "canceled" }

// Lag is how late the run started after its fire's scheduled time.
func (r Run) Lag() time.Duration { return r.Start.Sub(r.Slot) }
