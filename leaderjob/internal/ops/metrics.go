package ops

import (
	"errors"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leaderjob/leaderjob/guard"
)

// Label names. Prometheus attaches the target labels job and instance to
// every scraped series (and Kubernetes service discovery commonly adds
// namespace, pod and app), renaming an app's own label of the same name to
// exported_*; these names are never attached by a scrape.
const (
	LabelApp     = "app_name" // the App's name: on every leaderjob series
	LabelJob     = "job_name" // the scheduled job
	labelReplica = "replica"  // this replica's identity (leaderjob_info only)
)

// Metrics are the App's Prometheus collectors. Label values are bounded:
// job names come from code, outcomes and reasons from fixed sets.
type Metrics struct {
	runs          *prometheus.CounterVec   // job_name, outcome, reason
	runDuration   *prometheus.HistogramVec // job_name
	lastSuccess   *prometheus.GaugeVec     // job_name
	interval      *prometheus.GaugeVec     // job_name
	isLeader      prometheus.Gauge
	owned         prometheus.Gauge
	spread        prometheus.Gauge
	transitions   prometheus.Counter
	checkDuration prometheus.Histogram
	guardErrors   *prometheus.CounterVec   // reason
	scheduler     *prometheus.CounterVec   // job_name, status
	sidecar       *prometheus.CounterVec   // class
	info          *prometheus.GaugeVec     // replica, guard
	ledgerErrors  *prometheus.CounterVec   // op
	catchUps      *prometheus.CounterVec   // job_name
	reruns        *prometheus.CounterVec   // job_name
	pauses        *prometheus.GaugeVec     // job_name
	manualRuns    *prometheus.CounterVec   // job_name, outcome
	fireLag       *prometheus.HistogramVec // job_name, fire
	inProgress    *prometheus.GaugeVec     // job_name
}

// runDurationBuckets reach from a millisecond to about 18 hours, so that
// nightly batch jobs land in a bucket of their own.
var runDurationBuckets = prometheus.ExponentialBuckets(0.001, 4, 14)

// fireLagBuckets reach from a millisecond (a scheduled fire on a healthy
// leader) to about three days (a catch-up run of a long window).
var fireLagBuckets = prometheus.ExponentialBuckets(0.001, 4, 15)

// Kinds of fire, the fire label of leaderjob_fire_lag_seconds.
const (
	FireScheduled = "scheduled"
	FireCatchUp   = "catch_up"
	FireManual    = "manual"
)

// NewMetrics registers the App's collectors on reg, each series labelled
// with the App's name.
func NewMetrics(reg prometheus.Registerer, app string) (*Metrics, error) {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_runs_total",
			Help: "Run attempts by job and outcome (ran, skipped, failed, panicked, canceled); reason is the skip reason class, empty otherwise.",
		}, []string{LabelJob, "outcome", "reason"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leaderjob_run_duration_seconds",
			Help:    "How long runs that were called took, by job.",
			Buckets: runDurationBuckets,
		}, []string{LabelJob}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_last_success_timestamp_seconds",
			Help: "Unix time of the last run on this replica that returned without error, by job.",
		}, []string{LabelJob}),
		interval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_job_interval_seconds",
			Help: "The longest gap between two consecutive fires of the job's schedule (its period for fixedRate and fixedDelay), for alerts such as \"no success for 2 intervals\".",
		}, []string{LabelJob}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_is_leader",
			Help: "1 while this replica's guard says it leads, else 0; follows the guard's changes, not only the runs.",
		}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_owned_jobs",
			Help: "Spread mode: how many jobs this replica owns, as it sees the fleet's members (0 outside spread mode). Across the fleet the sum is the number of jobs; more is two replicas that both believe they own a job (the ledger keeps each fire to one run).",
		}),
		spread: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_spread_jobs",
			Help: "Spread mode: how many jobs this replica shares out over the fleet's members (0 outside spread mode). Compare with the fleet's sum of leaderjob_owned_jobs.",
		}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leaderjob_leadership_transitions_total",
			Help: "Changes of leader seen by this replica.",
		}),
		checkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leaderjob_guard_check_duration_seconds",
			Help:    "How long the guard took to answer before a run (probes are not counted).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 100µs .. ~6.5s
		}),
		guardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_guard_errors_total",
			Help: "Checks before a run that failed, by reason class (unavailable, timeout, forbidden, stale, leader_unknown, ...).",
		}, []string{"reason"}),
		scheduler: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_scheduler_events_total",
			Help: "gocron's own counts of the fires it handed to the App, by job and status (success, fail, skip).",
		}, []string{LabelJob, "status"}),
		sidecar: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_sidecar_requests_total",
			Help: "Calls to the leader-elector sidecar (retries included in one call) by result class: ok, unreachable, timeout, bad_status, malformed, leader_unknown, stale, canceled, error.",
		}, []string{"class"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_info",
			Help: "Always 1: this replica's identity and guard source, to map a scrape target (instance, pod) to the replica the logs name.",
		}, []string{labelReplica, "guard"}),
		ledgerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_ledger_errors_total",
			Help: "Claims and completions the ledger could not record, by operation (claim, complete); a failed claim skips the run.",
		}, []string{"op"}),
		catchUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_catch_up_runs_total",
			Help: "Missed fires run late by a new leader, by job.",
		}, []string{LabelJob}),
		reruns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_reruns_total",
			Help: "Fires run again because the term that claimed them never completed them (the at-least-once case), by job.",
		}, []string{LabelJob}),
		pauses: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_pauses",
			Help: "1 while an operator has paused the job (its fires are skipped with reason paused), else 0.",
		}, []string{LabelJob}),
		manualRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_manual_runs_total",
			Help: "Operators' run requests this replica answered, by job and outcome.",
		}, []string{LabelJob, "outcome"}),
		fireLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leaderjob_fire_lag_seconds",
			Help:    "From a fire's scheduled time to the call of the job (the guard's answer and the claim included), by job and kind of fire (scheduled, catch_up, manual).",
			Buckets: fireLagBuckets,
		}, []string{LabelJob, "fire"}),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_runs_in_progress",
			Help: "Runs of the job executing on this replica now (0 or 1: a job never overlaps itself).",
		}, []string{LabelJob}),
	}
	for _, op := range []string{"claim", "complete"} {
		m.ledgerErrors.WithLabelValues(op)
	}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{LabelApp: app}, reg)
	for _, c := range []prometheus.Collector{m.runs, m.runDuration, m.lastSuccess, m.interval, m.isLeader, m.owned, m.spread, m.transitions,
		m.checkDuration, m.guardErrors, m.scheduler, m.sidecar, m.info, m.ledgerErrors, m.catchUps, m.reruns, m.pauses, m.manualRuns, m.fireLag, m.inProgress} {
		if err := wrapped.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				return nil, errors.New("leaderjob metrics are already registered on this registry: give each App its own registry, or use one App per process")
			}
			return nil, err
		}
	}
	return m, nil
}

// DefaultRegistry is a fresh registry with the Go and process collectors.
func DefaultRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Run is what the metrics count of one run attempt.
type Run struct {
	Job     string
	Outcome string // guard.Outcome
	Reason  string // the skip reason class, "" unless skipped
	// GuardError: the skip says the guard could not answer (as opposed
	// to another replica leading, or the App's own reasons).
	GuardError    bool
	CheckDuration time.Duration // zero when the guard was not asked
	Duration      time.Duration
}

// ObserveRun counts one run attempt. Guard latency and errors come from
// the attempts that asked the guard (CheckDuration > 0), never from probes.
func (m *Metrics) ObserveRun(r Run) {
	m.runs.WithLabelValues(r.Job, r.Outcome, r.Reason).Inc()
	if r.CheckDuration > 0 {
		m.checkDuration.Observe(r.CheckDuration.Seconds())
		if r.GuardError {
			m.guardErrors.WithLabelValues(r.Reason).Inc()
		}
	}
	if r.Outcome == string(guard.Skipped) {
		return
	}
	m.runDuration.WithLabelValues(r.Job).Observe(r.Duration.Seconds())
	if r.Outcome == string(guard.Ran) {
		m.lastSuccess.WithLabelValues(r.Job).Set(float64(time.Now().UnixNano()) / 1e9)
	}
}

// Job makes the series of a job that a dashboard or an alert reads exist
// from its registration, at zero, rather than from their first increment
// (a rate over a series that appears with its first run misses that run):
// leaderjob_runs_total for every outcome of a call and for the standby's
// skip (not_leader) when guarded, leaderjob_run_duration_seconds,
// leaderjob_fire_lag_seconds for every kind of fire,
// leaderjob_runs_in_progress, leaderjob_catch_up_runs_total,
// leaderjob_reruns_total and leaderjob_pauses. A job's last success has no
// zero value and appears with its first success.
func (m *Metrics) Job(job string, guarded bool) *JobSeries {
	for _, o := range []guard.Outcome{guard.Ran, guard.Failed, guard.Panicked, guard.Canceled} {
		m.runs.WithLabelValues(job, string(o), "")
	}
	if guarded {
		m.runs.WithLabelValues(job, string(guard.Skipped), string(guard.ReasonNotLeader))
	}
	m.runDuration.WithLabelValues(job)
	s := &JobSeries{inProgress: m.inProgress.WithLabelValues(job)}
	for i, f := range []string{FireScheduled, FireCatchUp, FireManual} {
		s.lag[i] = m.fireLag.WithLabelValues(job, f)
	}
	m.catchUps.WithLabelValues(job)
	m.reruns.WithLabelValues(job)
	m.pauses.WithLabelValues(job)
	return s
}

// JobSeries are the series of one job that every run updates, looked up
// once.
type JobSeries struct {
	lag        [3]prometheus.Observer // by kind of fire: scheduled, catch_up, manual
	inProgress prometheus.Gauge
}

// RunStarted counts a run whose function is being called, lag after its
// scheduled time (a negative lag counts as zero), of a kind of fire
// (FireScheduled, FireCatchUp or FireManual).
func (s *JobSeries) RunStarted(fire string, lag time.Duration) {
	i := 0
	switch fire {
	case FireCatchUp:
		i = 1
	case FireManual:
		i = 2
	}
	s.lag[i].Observe(max(lag, 0).Seconds())
	s.inProgress.Inc()
}

// RunEnded counts the end of a run RunStarted counted.
func (s *JobSeries) RunEnded() { s.inProgress.Dec() }

// SetLeader follows the guard's answer: 1 while this replica leads.
func (m *Metrics) SetLeader(leads bool) {
	if leads {
		m.isLeader.Set(1)
	} else {
		m.isLeader.Set(0)
	}
}

// Transition counts a change of leader seen by this replica.
func (m *Metrics) Transition() { m.transitions.Inc() }

// SourceRequest counts a request of the guard's source (the sidecar's) by
// result class.
func (m *Metrics) SourceRequest(class string) { m.sidecar.WithLabelValues(class).Inc() }

// Interval sets the longest gap between two fires of the job's schedule.
func (m *Metrics) Interval(job string, d time.Duration) {
	m.interval.WithLabelValues(job).Set(d.Seconds())
}

// Info sets the constant series naming this replica and its guard source.
func (m *Metrics) Info(replica, guardName string) { m.info.WithLabelValues(replica, guardName).Set(1) }

// LedgerError counts a ledger operation (claim, complete, clock_behind)
// that failed.
func (m *Metrics) LedgerError(op string) { m.ledgerErrors.WithLabelValues(op).Inc() }

// CatchUp counts a missed fire run late.
func (m *Metrics) CatchUp(job string) { m.catchUps.WithLabelValues(job).Inc() }

// Rerun counts a fire run again because its term never completed it.
func (m *Metrics) Rerun(job string) { m.reruns.WithLabelValues(job).Inc() }

// Paused sets whether an operator has paused the job.
func (m *Metrics) Paused(job string, paused bool) {
	v := 0.0
	if paused {
		v = 1
	}
	m.pauses.WithLabelValues(job).Set(v)
}

// ManualRun counts an operator's run request answered with outcome.
func (m *Metrics) ManualRun(job, outcome string) { m.manualRuns.WithLabelValues(job, outcome).Inc() }

// Monitor feeds gocron's per-job counts into the metrics.
func (m *Metrics) Monitor() gocron.Monitor { return gocronMonitor{m} }

// gocronMonitor feeds gocron's per-job counts into the metrics.
type gocronMonitor struct{ m *Metrics }

func (g gocronMonitor) IncrementJob(_ uuid.UUID, name string, _ []string, status gocron.JobStatus) {
	g.m.scheduler.WithLabelValues(name, string(status)).Inc()
}

func (gocronMonitor) RecordJobTiming(time.Time, time.Time, uuid.UUID, string, []string) {}

// Owned sets how many of the spread jobs this replica owns in spread mode.
func (m *Metrics) Owned(owned, spread int) {
	m.owned.Set(float64(owned))
	m.spread.Set(float64(spread))
}
