package leaderjob

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leaderjob/leaderjob/ledger"
)

// JobsResponse is the body of GET /jobs: every job with its schedule and,
// from the fleet's ledger, its last claimed, completed and successful
// fires, so that any replica answers for the fleet (in the spirit of Spring
// Boot Actuator's scheduledtasks endpoint).
type JobsResponse struct {
	App    string       `json:"app"`
	Self   string       `json:"self"`
	Leader string       `json:"leader"`
	Fence  ledger.Epoch `json:"fence"`
	Jobs   []JobStatus  `json:"jobs"`
	Error  string       `json:"error,omitempty"` // the ledger could not be read
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
	// Paused is the pause the leader acknowledged (an operator's, see
	// Controls); nil when the job is not paused.
	Paused *ledger.Pause `json:"paused,omitempty"`
	// ManualRuns are the operators' last run requests of the job, by
	// request id.
	ManualRuns map[string]*ledger.Run `json:"manual_runs,omitempty"`
	ledger.JobState
}

// Status returns what GET /jobs serves.
func (a *App) Status(ctx context.Context) JobsResponse {
	resp := JobsResponse{App: a.name, Self: a.self}
	a.leader.mu.Lock()
	resp.Leader = a.leader.holder
	a.leader.mu.Unlock()
	var s ledger.State
	if a.anyClaims() || a.controls != nil { // only then is there anything in the ledger
		var err error
		if s, err = a.ledger.Snapshot(ctx); err != nil {
			resp.Error = err.Error()
		}
	}
	resp.Fence = s.Fence
	next := a.nextRuns()
	for _, j := range a.jobsSnapshot() {
		st := JobStatus{Name: j.name, Schedule: j.schedule.String(), CatchUp: j.catchUp.String(),
			Claims: j.claims(), EveryReplica: j.cfg.everyReplica, Disabled: j.schedule.IsDisabled()}
		if t, ok := next[j.name]; ok {
			st.NextRun = &t
		}
		if js := s.Jobs[a.ledgerJob(j)]; js != nil {
			st.JobState = *js
		}
		if p, ok := s.Paused[j.name]; ok {
			st.Paused = &p
		}
		for id, r := range s.Runs {
			if r.Job == j.name {
				if st.ManualRuns == nil {
					st.ManualRuns = map[string]*ledger.Run{}
				}
				st.ManualRuns[id] = r
			}
		}
		resp.Jobs = append(resp.Jobs, st)
	}
	return resp
}

// nextRuns is each scheduled job's next fire on this replica.
func (a *App) nextRuns() map[string]time.Time {
	a.mu.Lock()
	sched := a.sched
	a.mu.Unlock()
	next := map[string]time.Time{}
	if sched == nil {
		return next
	}
	for _, gj := range sched.Jobs() {
		if t, err := gj.NextRun(); err == nil && !t.IsZero() {
			next[gj.Name()] = t
		}
	}
	return next
}

func (a *App) serveJobs(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a.Status(ctx))
}

// ledgerCollector exports, from the fleet's ledger, when each claimed job
// last succeeded anywhere: the same value on every replica, and it survives
// leader changes and restarts (leaderjob_last_success_timestamp_seconds is
// this replica's own).
type ledgerCollector struct {
	a    *App
	desc *prometheus.Desc
}

func newLedgerCollector(a *App) *ledgerCollector {
	return &ledgerCollector{a: a, desc: prometheus.NewDesc("leaderjob_ledger_last_success_timestamp_seconds",
		"Unix time of the job's last successful run anywhere in the fleet, from the ledger (claimed jobs only).",
		[]string{labelJob}, prometheus.Labels{labelApp: a.name})}
}

func (c *ledgerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *ledgerCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.a.anyClaims() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := c.a.ledger.Snapshot(ctx)
	if err != nil {
		return
	}
	for _, j := range c.a.jobsSnapshot() {
		if js := s.Jobs[c.a.ledgerJob(j)]; js != nil && js.Success != nil {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue,
				float64(js.Success.Ended.UnixNano())/1e9, j.name)
		}
	}
}
