package leaderjob_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
	"github.com/leaderjob/leaderjob/sidecarclient"
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
	app, err := leaderjob.New("sidecar-mode", leaderjob.WithEnv(envOf(env)),
		leaderjob.WithLogger(leaderjobtest.Logger(t)), leaderjob.WithoutSignals())
	noErr(t, err)
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Hour).WithInitialDelay(time.Hour), nop))
	startApp(t, app)
	base := "http://" + app.HTTPAddr()
	ctx := context.Background()

	if r, _ := app.Trigger(ctx, "job"); r.Outcome != guard.Ran || r.Decision.Holder != "pod-a" {
		t.Fatalf("named by the sidecar: %s %v", r.Outcome, r.Err)
	}
	side.Set(sidecartest.Leader("pod-b"))
	time.Sleep(600 * time.Millisecond) // let the guard's 500ms answer cache expire
	if r, _ := app.Trigger(ctx, "job"); r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader || r.Decision.Holder != "pod-b" {
		t.Fatalf("another pod named: %s/%s holder %q", r.Outcome, r.Reason, r.Decision.Holder)
	}
	side.Set(sidecartest.Respond(http.StatusInternalServerError, "text/plain", []byte("oops")))
	time.Sleep(600 * time.Millisecond)
	if r, _ := app.Trigger(ctx, "job"); r.Outcome != guard.Skipped || r.Reason != guard.ReasonUnavailable {
		t.Fatalf("sidecar failing: %s/%s", r.Outcome, r.Reason)
	}
	if got := sample(t, base, `leaderjob_sidecar_requests_total{class="ok"}`); got != "2" {
		t.Errorf("ok sidecar calls = %q, want 2", got)
	}
	if got := sample(t, base, `leaderjob_sidecar_requests_total{class="bad_status"}`); got != "1" {
		t.Errorf("bad_status sidecar calls = %q, want 1", got)
	}
}

// /leader speaks the sidecar protocol: this project's own sidecar client
// reads it, so a leaderjob app can be another program's leader source.
func TestLeaderEndpointRoundTrip(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	_, base, _ := opsApp(t, g, nil)
	client, err := sidecarclient.New(base + "/leader")
	if err != nil {
		t.Fatal(err)
	}
	l, err := client.Leader(context.Background())
	if err != nil || l.Name != "pod-a" {
		t.Fatalf("leader: %+v, %v; want pod-a", l, err)
	}
	g.SetFollower("pod-b")
	if l, err = client.Leader(context.Background()); err != nil || l.Name != "pod-b" {
		t.Fatalf("follower's view: %+v, %v; want pod-b", l, err)
	}
	g.SetFollower("")
	if _, err = client.Leader(context.Background()); !errors.Is(err, sidecarclient.ErrLeaderUnknown) {
		t.Fatalf("no leader: %v, want ErrLeaderUnknown", err)
	}
}
