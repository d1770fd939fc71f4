package leaderjob

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leaderjob/leaderjob/ledger"
	"github.com/leaderjob/leaderjob/wire"
)

// JobsResponse is the body of GET /jobs.
//
// Deprecated: use wire.JobsResponse, the same type.
type JobsResponse = wire.JobsResponse

// JobStatus is one job in JobsResponse.
//
// Deprecated: use wire.JobStatus, the same type.
type JobStatus = wire.JobStatus

// Status returns what GET /jobs serves.
func (a *App) Status(ctx context.Context) wire.JobsResponse {
	resp := wire.JobsResponse{App: a.name, Self: a.self}
	a.leader.mu.Lock()
	resp.Leader = a.leader.holder
	a.leader.mu.Unlock()
	var s ledger.State
	if a.anyClaims() || a.ctl.controls != nil { // only then is there anything in the ledger
		var err error
		if s, err = a.fires.ledger.Snapshot(ctx); err != nil {
			resp.Error = err.Error()
		}
	}
	resp.Fence, resp.Spread = s.Fence, a.spread != nil
	next := a.nextRuns()
	for _, j := range a.jobsSnapshot() {
		st := wire.JobStatus{Name: j.name, Schedule: j.schedule.String(), CatchUp: j.catchUp.String(),
			Claims: j.claims(), EveryReplica: j.cfg.everyReplica, Disabled: j.schedule.IsDisabled()}
		if t, ok := next[j.name]; ok {
			st.NextRun = &t
		}
		if a.spreads(j) {
			st.Owner = a.spread.owner(j.name)
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
					st.ManualRuns = map[string]*wire.Run{}
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
	s, err := c.a.fires.ledger.Snapshot(ctx)
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
