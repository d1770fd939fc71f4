package kube_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

// An App configured for the sidecar from the environment asks the sidecar,
// runs only when it is named, and counts the sidecar's answers by class.
func TestSidecarModeFromEnvironment(t *testing.T) {
	side := sidecartest.NewServer(sidecartest.Leader("pod-a"))
	defer side.Close()
	env := map[string]string{
		"LEADERJOB_GUARD": "sidecar", "LEADERJOB_SIDECAR_URL": side.URL,
		"POD_NAME": "pod-a", "LEADERJOB_HTTP_ADDR": "127.0.0.1:0",
	}
	app, err := leaderjob.New("sidecar-mode", kube.Guards(), leaderjob.WithEnv(envOf(env)),
		leaderjob.WithLogger(leaderjobtest.Logger(t)), leaderjob.WithoutSignals())
	noErr(t, err)
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))
	ctx0, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx0) }()
	defer func() { cancel(); <-done }()
	<-app.Running()
	base := "http://" + app.HTTPAddr()
	ctx := context.Background()

	if r, _ := app.Trigger(ctx, "job"); r.Outcome != guard.Ran || r.Decision.Holder != "pod-a" {
		t.Fatalf("named by the sidecar: %s %v", r.Outcome, r.Err)
	}
	// Each change shows once the guard's 500ms answer cache expires; the
	// triggers before that reuse the cached answer and ask nothing.
	side.Set(sidecartest.Leader("pod-b"))
	var r leaderjob.Result
	testutil.Eventually(t, 5*time.Second, "a run skipped for pod-b", func() bool { r, _ = app.Trigger(ctx, "job"); return r.Outcome != guard.Ran })
	if r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader || r.Decision.Holder != "pod-b" {
		t.Fatalf("another pod named: %s/%s holder %q", r.Outcome, r.Reason, r.Decision.Holder)
	}
	side.Set(sidecartest.Respond(http.StatusInternalServerError, "text/plain", []byte("oops")))
	testutil.Eventually(t, 5*time.Second, "a run skipped for the failing sidecar", func() bool {
		r, _ = app.Trigger(ctx, "job")
		return r.Reason != guard.ReasonNotLeader
	})
	if r.Outcome != guard.Skipped || r.Reason != guard.ReasonUnavailable {
		t.Fatalf("sidecar failing: %s/%s", r.Outcome, r.Reason)
	}
	if got := sample(t, base, `leaderjob_sidecar_requests_total{class="ok"}`); got != "2" {
		t.Errorf("ok sidecar calls = %q, want 2", got)
	}
	if got := sample(t, base, `leaderjob_sidecar_requests_total{class="bad_status"}`); got != "1" {
		t.Errorf("bad_status sidecar calls = %q, want 1", got)
	}
}

// Without kube.Guards the core builds only always and never: lease and
// sidecar are start-up errors that say what to add, never a silent run on
// every replica.
func TestLeaseAndSidecarNeedTheKubernetesSources(t *testing.T) {
	for _, source := range []string{"lease", "sidecar"} {
		_, err := leaderjob.New("app", leaderjob.WithEnv(envOf(map[string]string{"LEADERJOB_GUARD": source})),
			leaderjob.WithLogger(leaderjobtest.Logger(t)))
		if !errors.Is(err, leaderjob.ErrConfig) || !strings.Contains(err.Error(), "kube.Guards()") || !strings.Contains(err.Error(), "LEADERJOB_GUARD="+source) {
			t.Errorf("%s without kube.Guards: %v", source, err)
		}
	}
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func nop(context.Context) error { return nil }

// sample reads one series from /metrics, without its app_name label.
func sample(t *testing.T, base, series string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		line = strings.Replace(line, `app_name="sidecar-mode",`, "", 1)
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}
