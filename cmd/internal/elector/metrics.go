package elector

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/leaderjob/leaderjob/wire"
)

// metrics are the elector's Prometheus collectors. Every series carries the
// Lease name as the constant label "election" (never "job": Prometheus
// attaches its own job label to every scraped series).
type metrics struct {
	reg      *prometheus.Registry
	isLeader prometheus.Gauge
	known    prometheus.Gauge
	changes  prometheus.Counter
	epoch    prometheus.Gauge
	requests *prometheus.CounterVec // kind: answer, stream
	streams  prometheus.Gauge
	info     *prometheus.GaugeVec
	upstream *prometheus.CounterVec // verb, result
}

func newMetrics(reg *prometheus.Registry, election string) *metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	labels := prometheus.Labels{"election": election}
	m := &metrics{
		reg: reg,
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_elector_is_leader", ConstLabels: labels,
			Help: "1 while this elector's answer names itself leader, else 0.",
		}),
		known: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_elector_leader_known", ConstLabels: labels,
			Help: `1 while this elector names a leader, 0 while it answers {"name":""}.`,
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leaderjob_elector_answer_changes_total", ConstLabels: labels,
			Help: "Changes of the answer (leader, epoch, or the reason it names none).",
		}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_elector_epoch", ConstLabels: labels,
			Help: "The Lease's leaseTransitions as last answered.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_elector_requests_total", ConstLabels: labels,
			Help: "Protocol requests served, by kind: answer (plain JSON) or stream (/sse).",
		}, []string{"kind"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderjob_elector_streams", ConstLabels: labels,
			Help: "Open change streams.",
		}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderjob_elector_apiserver_requests_total", ConstLabels: labels,
			Help: "Requests sent to the apiserver for the election, by verb (get, create, update, watch) and result (2xx, 4xx, 5xx, error).",
		}, []string{"verb", "result"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderjob_elector_info", ConstLabels: labels,
			Help: "1, labelled with the Lease's namespace and this elector's identity.",
		}, []string{"namespace", "replica"}),
	}
	reg.MustRegister(m.isLeader, m.known, m.changes, m.epoch, m.requests, m.streams, m.info, m.upstream,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.requests.WithLabelValues("answer")
	m.requests.WithLabelValues("stream")
	return m
}

func (m *metrics) answer(a wire.Answer, first bool) {
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	m.isLeader.Set(b(a.IsLeader))
	m.known.Set(b(a.Name != ""))
	if a.Epoch != nil {
		m.epoch.Set(float64(*a.Epoch))
	}
	if !first {
		m.changes.Inc()
	}
}
