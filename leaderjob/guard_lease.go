package leaderjob

import (
	"log/slog"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
)

// leaseGuard builds the in-process Lease guard from the LEADERJOB_LEASE_*
// variables (see lease.FromEnv). attrs describe it for the start-up summary
// record.
func leaseGuard(lookup func(string) (string, bool), appName, self string, logger *slog.Logger) (g guard.Guard, attrs []slog.Attr, err error) {
	lg, err := lease.FromEnv(lookup, appName, self, logger)
	if err != nil {
		return nil, nil, err
	}
	return lg, lg.LogValue().Group(), nil
}
