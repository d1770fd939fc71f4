// Package report renders the comparison's results: a Markdown table per
// fault, with the best figure of each column marked, and an SVG timeline
// per contender of which replica ran each fire, with the faults, lost
// fires and doubled fires marked. Results are also kept as JSON, so that
// the table and the picture can be drawn again without running anything.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/leaderjob/leaderjob/bench/internal/runs"
)

// Result is one run of the comparison.
type Result struct {
	Started  time.Time    `json:"started"`
	Took     Duration     `json:"took"`
	Command  string       `json:"command"`
	Machine  Machine      `json:"machine"`
	Settings Settings     `json:"settings"`
	Faults   []Fault      `json:"faults"`
	Entries  []*Contender `json:"contenders"`
}

// Machine describes where the comparison ran.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	Memory    string `json:"memory"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	APIServer string `json:"apiserver"`
	Redis     string `json:"redis"`
}

// Settings are what every contender ran with.
type Settings struct {
	Job      string   `json:"job"`
	Spec     string   `json:"spec"`
	Period   Duration `json:"period"`
	Work     Duration `json:"work"`
	Replicas int      `json:"replicas"`
	Timings  string   `json:"timings"` // lease duration / renew deadline / retry period
	Phase    Duration `json:"phase"`   // how long after a fire each fault begins
	Grace    Duration `json:"grace"`   // the termination grace period
}

// Fault is one of the faults, in the order they were applied.
type Fault struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	What  string `json:"what"` // what the bench does, for the notes
}

// Contender statuses.
const (
	StatusOK          = "ok"
	StatusUnavailable = "not available"
	StatusFailed      = "failed"
)

// Contender is what one contender did through the faults.
type Contender struct {
	ID       string        `json:"id"`
	Label    string        `json:"label"`
	How      string        `json:"how"`
	Backend  string        `json:"backend"`
	Status   string        `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Segments []Segment     `json:"segments"`
	Replicas []ReplicaSpan `json:"replicas"`
	Runs     []runs.Run    `json:"runs"`
}

// Segment is one fault's stretch of a contender's run.
type Segment struct {
	Fault   string       `json:"fault"`
	Window  runs.Window  `json:"window"`
	Events  []runs.Event `json:"events"`
	Figures runs.Figures `json:"figures"`
	// Requests is the mean number of requests a replica sent to the
	// apiserver (or Redis) per minute of the segment; Busiest is the rate
	// of the replica that sent the most.
	Requests float64 `json:"requests_per_replica_minute"`
	Busiest  float64 `json:"busiest_replica_per_minute"`
}

// ReplicaSpan is when one replica ran.
type ReplicaSpan struct {
	Name    string    `json:"name"`
	Release string    `json:"release"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Restarts counts the times a process of the replica exited on its
	// own and was started again.
	Restarts int `json:"restarts,omitempty"`
}

// Duration is a time.Duration written as text in JSON ("1.5s").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

func (d Duration) String() string { return time.Duration(d).String() }

// Load reads a result written by Save.
func Load(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// Save writes r as JSON.
func (r *Result) Save(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// fault returns the fault id's description.
func (r *Result) fault(id string) Fault {
	for _, f := range r.Faults {
		if f.ID == id {
			return f
		}
	}
	return Fault{ID: id, Label: id}
}
