package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/wire"
)

type fakeStatus struct{ live, ready error }

func (f fakeStatus) Live() error                 { return f.live }
func (f fakeStatus) Ready(context.Context) error { return f.ready }
func (fakeStatus) Leader(context.Context) wire.Answer {
	return wire.Answer{Name: "pod-a", Self: "pod-b"}
}
func (fakeStatus) Jobs(context.Context) wire.JobsResponse {
	return wire.JobsResponse{App: "billing", Self: "pod-b"}
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// The endpoints answer from the Status: 503 with the reason when it says
// no, the leader in the sidecar's shape, the jobs as JSON.
func TestHandler(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	h := Handler(fakeStatus{live: errors.New("scheduler stopped"), ready: errors.New("starting")}, prometheus.NewRegistry(), logger)
	for path, want := range map[string]string{"/healthz": "scheduler stopped", "/readyz": "starting"} {
		if rec := get(t, h, path); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s = %d %q, want 503 naming %q", path, rec.Code, rec.Body, want)
		}
	}
	h = Handler(fakeStatus{}, prometheus.NewRegistry(), logger)
	for _, path := range []string{"/healthz", "/readyz"} {
		if rec := get(t, h, path); rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, rec.Code)
		}
	}
	rec := get(t, h, "/leader")
	var ans map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans["name"] != "pod-a" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /leader = %q (%s), %v; want JSON naming pod-a", rec.Body, rec.Header().Get("Content-Type"), err)
	}
	if rec := get(t, h, "/jobs"); !strings.Contains(rec.Body.String(), `"billing"`) {
		t.Errorf("GET /jobs = %q", rec.Body)
	}
}

// A default address already in use disables the endpoints with a warning;
// an address that was asked for fails the start, naming the setting.
func TestListenerBusyAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var logs bytes.Buffer
	l := &Listener{Addr: busy.Addr().String(), Defaulted: true, Var: "LEADERJOB_HTTP_ADDR", Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	stop, err := l.Serve(http.NotFoundHandler())
	if err != nil || l.Bound() != "" || !strings.Contains(logs.String(), "operations endpoints disabled") {
		t.Errorf("defaulted busy address: err %v, bound %q, logs %q", err, l.Bound(), logs.String())
	}
	stop()
	l.Defaulted = false
	if _, err := l.Serve(http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "LEADERJOB_HTTP_ADDR=") {
		t.Errorf("chosen busy address: err %v, want one naming the variable", err)
	}
}

// Runs are counted by job, outcome and reason; guard errors and the check
// latency only for attempts that asked the guard.
func TestObserveRun(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, "billing")
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRun(Run{Job: "nightly", Outcome: string(guard.Ran), Duration: time.Second, CheckDuration: time.Millisecond})
	m.ObserveRun(Run{Job: "nightly", Outcome: string(guard.Skipped), Reason: "timeout", GuardError: true, CheckDuration: 2 * time.Second})
	m.ObserveRun(Run{Job: "nightly", Outcome: string(guard.Skipped), Reason: "already_running"})
	if n := testutil.ToFloat64(m.runs.WithLabelValues("nightly", "skipped", "timeout")); n != 1 {
		t.Errorf("timeout skips = %v, want 1", n)
	}
	if n := testutil.ToFloat64(m.guardErrors.WithLabelValues("timeout")); n != 1 {
		t.Errorf("guard errors = %v, want 1", n)
	}
	if n := testutil.CollectAndCount(m.checkDuration); n != 1 {
		t.Errorf("check duration series = %d, want 1", n)
	}
	if _, err := NewMetrics(reg, "billing"); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("a second App on one registry: %v", err)
	}
}
