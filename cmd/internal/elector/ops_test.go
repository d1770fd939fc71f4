package elector

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leaderjob/leaderjob/guard"
)

type fakeChecker struct{ healthy, ready error }

func (f *fakeChecker) Healthy() error { return f.healthy }
func (f *fakeChecker) Ready() error   { return f.ready }

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestOps(t *testing.T) {
	src := &fakeSource{}
	src.set(guard.Decision{Self: "pod-a"}, guard.ErrLeaderUnknown)
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, "billing")
	s := NewServer(src, "pod-a", 2e9, nil, m)
	chk := &fakeChecker{}
	h := opsHandler(chk, s, reg)

	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code, body := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "no leader named yet") {
		t.Errorf("/readyz before an answer: %d %q", code, body)
	}
	src.set(leads("pod-a", "pod-a", 4), nil)
	s.Update()
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("/readyz after an answer: %d", code)
	}
	chk.ready = errors.New(`forbidden: grant "update" on leases`)
	if code, body := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "grant") {
		t.Errorf("/readyz with an access problem: %d %q", code, body)
	}
	chk.healthy = errors.New("not renewed for 40s")
	if code, _ := get(t, h, "/healthz"); code != 503 {
		t.Errorf("/healthz when wedged: %d", code)
	}

	_, body := get(t, h, "/metrics")
	for _, want := range []string{
		`leaderjob_elector_is_leader{election="billing"} 1`,
		`leaderjob_elector_leader_known{election="billing"} 1`,
		`leaderjob_elector_epoch{election="billing"} 4`,
		`leaderjob_elector_answer_changes_total{election="billing"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "leaderjob_") && (strings.Contains(line, `{job=`) || strings.Contains(line, `,job=`)) {
			t.Errorf("a series with a job label, which Prometheus would rename: %s", line)
		}
	}
}
