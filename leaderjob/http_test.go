package leaderjob_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// opsApp starts an App (see newApp) with the operations listener on a free
// loopback port and returns it with its base URL; stop ends Run.
func opsApp(t *testing.T, g guard.Guard, register func(*leaderjob.App)) (app *leaderjob.App, base string, stop func() error) {
	t.Helper()
	app, _ = newApp(t, leaderjob.WithGuard(g), leaderjob.WithHTTPAddr("127.0.0.1:0"), leaderjob.WithDrainTimeout(5*time.Second))
	if register != nil {
		register(app)
	}
	stop = startApp(t, app)
	return app, "http://" + app.HTTPAddr(), stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// sample returns the value of the exposition line that starts with series
// (name plus exact label set), or "" when absent.
// appLabel matches the app_name label of a series in the text format.
var appLabel = regexp.MustCompile(`app_name="[^"]*",?`)

func sample(t *testing.T, base, series string) string {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		// Every leaderjob series carries app_name; compare without it.
		line := appLabel.ReplaceAllString(sc.Text(), "")
		line = strings.Replace(line, "{} ", " ", 1)
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestMetricsCountRunsAndSkips(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	later := leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour)
	app, base, _ := opsApp(t, g, func(app *leaderjob.App) {
		noErr(t, app.Schedule("beat", later, func(context.Context) error { return nil }))
		noErr(t, app.Schedule("broken", later, func(context.Context) error { return errors.New("boom") }))
	})
	trigger := func(job string) {
		t.Helper()
		if _, err := app.Trigger(context.Background(), job); err != nil {
			t.Fatal(err)
		}
	}

	trigger("beat")
	first := sample(t, base, `leaderjob_runs_total{job_name="beat",outcome="ran",reason=""}`)
	trigger("beat")
	trigger("broken")
	g.SetFollower("pod-b")
	trigger("beat")
	g.SetError(guard.ErrUnavailable)
	trigger("beat")

	want := map[string]string{
		`leaderjob_runs_total{job_name="beat",outcome="ran",reason=""}`:                "2",
		`leaderjob_runs_total{job_name="broken",outcome="failed",reason=""}`:           "1",
		`leaderjob_runs_total{job_name="beat",outcome="skipped",reason="not_leader"}`:  "1",
		`leaderjob_runs_total{job_name="beat",outcome="skipped",reason="unavailable"}`: "1",
		`leaderjob_guard_errors_total{reason="unavailable"}`:                           "1",
		`leaderjob_run_duration_seconds_count{job_name="beat"}`:                        "2",
		`leaderjob_is_leader`:                          "0",
		`leaderjob_leadership_transitions_total`:       "2", // "" -> pod-a -> pod-b; an error changes nothing
		`leaderjob_guard_check_duration_seconds_count`: "5",
	}
	if first != "1" {
		t.Errorf("ran counter after one run = %q, want 1", first)
	}
	for series, v := range want {
		if got := sample(t, base, series); got != v {
			t.Errorf("%s = %q, want %q", series, got, v)
		}
	}
	if got := sample(t, base, `leaderjob_last_success_timestamp_seconds{job_name="beat"}`); got == "" || got == "0" {
		t.Errorf("last success timestamp of beat = %q, want a time", got)
	}
	if got := sample(t, base, `leaderjob_last_success_timestamp_seconds{job_name="broken"}`); got != "" {
		t.Errorf("a job that never succeeded has a last success timestamp %q", got)
	}
}

func TestProbes(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	release := make(chan struct{})
	started := make(chan struct{})
	app, base, stop := opsApp(t, g, func(app *leaderjob.App) {
		noErr(t, app.Schedule("slow", leaderjob.Once(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			<-release // keeps draining until the test has probed
			return nil
		}))
	})
	_ = app
	<-started

	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, base+path); code != http.StatusOK {
			t.Errorf("leader %s = %d %q, want 200", path, code, body)
		}
	}

	g.SetFollower("pod-b")
	if code, _ := get(t, base+"/readyz"); code != http.StatusOK {
		t.Errorf("follower /readyz = %d, want 200: a follower is ready", code)
	}

	g.SetUnhealthy(errors.New("elector has not renewed for 40s"))
	if code, body := get(t, base+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "40s") {
		t.Errorf("wedged /healthz = %d %q, want 503 naming the problem", code, body)
	}
	g.SetUnhealthy(nil)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	testutil.Eventually(t, bound, "/readyz 503 while draining", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusServiceUnavailable })
	if code, body := get(t, base+"/readyz"); !strings.Contains(body, "shutting down") {
		t.Errorf("draining /readyz = %d %q, want 503 shutting down", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("draining /healthz = %d, want 200: liveness must not kill a draining pod", code)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the listener still answers after Run returned")
	}
}

func TestLeaderEndpoint(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	_, base, _ := opsApp(t, g, nil)

	decode := func() leaderjob.LeaderResponse {
		t.Helper()
		code, body := get(t, base+"/leader")
		if code != http.StatusOK {
			t.Fatalf("/leader = %d", code)
		}
		var r leaderjob.LeaderResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("/leader body %q: %v", body, err)
		}
		return r
	}
	if r := decode(); r.Name != "pod-a" || !r.IsLeader || r.Self != "pod-a" || r.Epoch == nil || *r.Epoch != 1 {
		t.Errorf("leader: %+v", r)
	}
	g.SetFollower("pod-b")
	if r := decode(); r.Name != "pod-b" || r.IsLeader || r.Self != "pod-a" {
		t.Errorf("follower: %+v", r)
	}
	g.SetError(guard.ErrUnavailable)
	if r := decode(); r.Name != "" || r.IsLeader || r.Error == "" {
		t.Errorf("guard error: %+v, want an empty name and the error", r)
	}
}

func TestBadHTTPAddrIsAConfigError(t *testing.T) {
	_, err := leaderjob.New("x", leaderjob.WithGuard(guard.Always),
		leaderjob.WithEnv(func(k string) (string, bool) {
			if k == "LEADERJOB_HTTP_ADDR" {
				return "no-port", true
			}
			return "", false
		}))
	if !errors.Is(err, leaderjob.ErrConfig) || !strings.Contains(err.Error(), "LEADERJOB_HTTP_ADDR") {
		t.Fatalf("err = %v, want a config error naming LEADERJOB_HTTP_ADDR", err)
	}
}
