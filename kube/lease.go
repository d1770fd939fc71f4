package kube

import (
	"log/slog"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// leaseGuard builds the in-process Lease guard from the LEADERJOB_LEASE_*
// variables (see lease.FromEnv). attrs describe it for the start-up summary
// record.
func leaseGuard(env leaderjob.SourceEnv) (g guard.Guard, attrs []slog.Attr, err error) {
	lg, err := lease.FromEnv(env.Lookup, env.App, env.Identity, env.Logger)
	if err != nil {
		return nil, nil, err
	}
	return lg, lg.LogValue().Group(), nil
}
