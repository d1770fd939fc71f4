// Package kube lets an App pick its guard from the environment with the
// sources that speak to Kubernetes: LEADERJOB_GUARD=lease (an in-process
// elector on a Lease, package guard/lease, on client-go) and
// LEADERJOB_GUARD=sidecar (a leader-elector sidecar in the pod, package
// guard/sidecar). Package leaderjob itself builds only always and never, so
// that programs and job tests that do not elect do not link client-go:
//
//	app, err := leaderjob.New("billing", kube.Guards())
//
// This is the one import a main adds to get the whole environment contract
// (see the README). Without it, LEADERJOB_GUARD=lease or sidecar, and auto
// inside a cluster, are start-up errors that name this package — never a
// silent fall-back to running every job on every replica.
package kube

import (
	"github.com/leaderjob/leaderjob/leaderjob"
)

// Guards returns the option that lets leaderjob.New build the lease and
// sidecar guards that LEADERJOB_GUARD names (auto picks lease inside a
// cluster).
func Guards() leaderjob.Option {
	return leaderjob.WithGuardSources(map[string]leaderjob.GuardSource{
		leaderjob.GuardLease:   leaseGuard,
		leaderjob.GuardSidecar: sidecarGuard,
	})
}
