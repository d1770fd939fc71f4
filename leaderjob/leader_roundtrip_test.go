package leaderjob_test

import (
	"context"
	"errors"
	"testing"

	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/sidecarclient"
)

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
