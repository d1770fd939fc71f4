package leaderjob

import (
	"errors"
	"log/slog"

	"github.com/leaderjob/leaderjob/guard"
)

// leaseGuard builds the in-process Lease guard from the LEADERJOB_LEASE_*
// variables. attrs describe it for the start-up summary record.
func leaseGuard(lookup func(string) (string, bool), appName, self string, logger *slog.Logger) (g guard.Guard, attrs []slog.Attr, err error) {
	return nil, nil, errors.New("LEADERJOB_GUARD=lease: the Lease guard (package guard/lease) is not part of this version yet; use always, never or sidecar")
}
