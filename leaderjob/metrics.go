package leaderjob

import (
	"errors"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/sidecarclient"
)

// metrics are the App's Prometheus collectors. Label values are bounded:
// job names come from code, outcomes and reasons from fixed sets.
type metrics struct {
	runs          *prometheus.CounterVec   // job, outcome, reason
	runDuration   *prometheus.HistogramVec // job
	lastSuccess   *prometheus.GaugeVec     // job
	isLeader      prometheus.Gauge
	transitions   prometheus.Counter
	checkDuration prometheus.Histogram
	guardErrors   *prometheus.CounterVec // reason
	scheduler     *prometheus.CounterVec // job, status
	sidecar       *prometheus.CounterVec // class
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_runs_total",
			Help: "Run attempts by job and outcome (ran, skipped, failed, panicked); reason is the skip reason class, empty otherwise.",
		}, []string{"job", "outcome", "reason"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "leaderjob_run_duration_seconds",
			Help:    "How long runs that were called took, by job.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms .. ~4.4min
		}, []string{"job"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_last_success_timestamp_seconds",
			Help: "Unix time of the last run that returned without error, by job.",
		}, []string{"job"}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_is_leader",
			Help: "1 if this replica's guard last answered that it leads, else 0.",
		}),
		transitions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leaderjob_leadership_transitions_total",
			Help: "Changes of leader seen by this replica.",
		}),
		checkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "leaderjob_guard_check_duration_seconds",
			Help:    "How long the guard took to answer before a run.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 100µs .. ~6.5s
		}),
		guardErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_guard_errors_total",
			Help: "Guard checks that failed, by reason class (unavailable, timeout, forbidden, stale, leader_unknown, ...).",
		}, []string{"reason"}),
		scheduler: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_scheduler_events_total",
			Help: "gocron's own counts of the fires it handed to the App, by job and status (success, fail, skip).",
		}, []string{"job", "status"}),
		sidecar: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_sidecar_requests_total",
			Help: "Calls to the leader-elector sidecar (retries included in one call) by result class: ok, unreachable, timeout, bad_status, malformed, leader_unknown, stale, canceled, error.",
		}, []string{"class"}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.runDuration, m.lastSuccess, m.isLeader, m.transitions, m.checkDuration, m.guardErrors, m.scheduler, m.sidecar} {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				return nil, errors.New("leaderjob metrics are already registered on this registry: give each App its own registry, or use one App per process")
			}
			return nil, err
		}
	}
	return m, nil
}

// defaultRegistry is a fresh registry with the Go and process collectors.
func defaultRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func (m *metrics) observeRun(r Result) {
	m.runs.WithLabelValues(r.Job, string(r.Outcome), r.Reason).Inc()
	if r.Outcome == guard.Skipped {
		return
	}
	m.runDuration.WithLabelValues(r.Job).Observe(r.Duration.Seconds())
	if r.Outcome == guard.Ran {
		m.lastSuccess.WithLabelValues(r.Job).Set(float64(time.Now().UnixNano()) / 1e9)
	}
}

func (m *metrics) observeCheck(d guard.Decision, err error, took time.Duration) {
	m.checkDuration.Observe(took.Seconds())
	if err != nil {
		m.guardErrors.WithLabelValues(guard.ReasonOf(err)).Inc()
		m.isLeader.Set(0)
		return
	}
	if d.Leader {
		m.isLeader.Set(1)
	} else {
		m.isLeader.Set(0)
	}
}

func (m *metrics) observeSidecar(r sidecarclient.Result) {
	class := r.Class
	if class == "" {
		class = "ok"
	}
	m.sidecar.WithLabelValues(class).Inc()
}

// gocronMonitor feeds gocron's per-job counts into the metrics.
type gocronMonitor struct{ m *metrics }

func (g gocronMonitor) IncrementJob(_ uuid.UUID, name string, _ []string, status gocron.JobStatus) {
	g.m.scheduler.WithLabelValues(name, string(status)).Inc()
}

func (gocronMonitor) RecordJobTiming(time.Time, time.Time, uuid.UUID, string, []string) {}
