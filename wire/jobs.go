package wire

import "time"

// JobsResponse is the body of an App's GET /jobs: every job with its
// schedule and, from the fleet's ledger, its last claimed, completed and
// successful fires, so that any replica answers for the fleet (in the
// spirit of Spring Boot Actuator's scheduledtasks endpoint).
type JobsResponse struct {
	App    string `json:"app"`
	Self   string `json:"self"`
	Leader string `json:"leader"`
	// Spread reports spread mode: each job has an owner (JobStatus.Owner).
	Spread bool        `json:"spread,omitempty"`
	Fence  Epoch       `json:"fence"`
	Jobs   []JobStatus `json:"jobs"`
	Error  string      `json:"error,omitempty"` // the ledger could not be read
}

// JobStatus is one job in JobsResponse.
type JobStatus struct {
	Name         string     `json:"name"`
	Schedule     string     `json:"schedule"`
	NextRun      *time.Time `json:"next_run,omitempty"` // this replica's next fire
	CatchUp      string     `json:"catch_up"`
	Claims       bool       `json:"claims"` // fires are claimed in the ledger
	EveryReplica bool       `json:"every_replica,omitempty"`
	Disabled     bool       `json:"disabled,omitempty"`
	// Owner is, in spread mode, the replica that owns the job as the
	// answering replica sees the fleet's members ("" otherwise).
	Owner string `json:"owner,omitempty"`
	// Paused is the pause the leader acknowledged; nil when the job is not
	// paused.
	Paused *Pause `json:"paused,omitempty"`
	// ManualRuns are the operators' last run requests of the job, by
	// request id.
	ManualRuns map[string]*Run `json:"manual_runs,omitempty"`
	JobState
}
