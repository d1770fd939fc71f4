package sidecar_test

import (
	"context"
	"testing"

	"github.com/leaderjob/leaderjob/sidecarclient/sidecartest"
)

// The elector's "epoch_scope" (its Lease's UID) becomes the Decision's
// EpochScope, so that a re-created Lease, whose epochs start again from 0,
// is a new scope and not a deposed leader.
func TestEpochScopeReachesTheDecision(t *testing.T) {
	_, g := newGuard(t, sidecartest.Respond(200, "application/json",
		[]byte(`{"name":"`+self+`","is_leader":true,"epoch":0,"epoch_scope":"lease-uid-2"}`)))
	d, err := g.Check(context.Background())
	if err != nil || !d.Leader || !d.HasEpoch || d.Epoch != 0 || d.EpochScope != "lease-uid-2" {
		t.Fatalf("Check = %+v, %v; want leader, epoch 0 in scope lease-uid-2", d, err)
	}
}
