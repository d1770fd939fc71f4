package leaderjob

import (
	"errors"
	"log/slog"

	"github.com/leaderjob/leaderjob/guard"
)

// sidecarGuard builds the leader-elector sidecar guard from
// LEADERJOB_SIDECAR_URL. attrs describe it for the start-up summary record.
func sidecarGuard(lookup func(string) (string, bool), self string, logger *slog.Logger) (g guard.Guard, attrs []slog.Attr, err error) {
	return nil, nil, errors.New("LEADERJOB_GUARD=sidecar: the sidecar guard (package guard/sidecar) is not part of this version yet; use always, never or lease")
}
