package lease

import (
	"context"
	"log/slog"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/leaderjob/leaderjob/internal/namedwatch"
)

// maxWatchBackoff caps the wait between failed attempts to open the watch.
const maxWatchBackoff = 30 * time.Second

// watch keeps a watch open on the Lease object (by name, so resourceNames
// in RBAC can limit it) and feeds what it sees to the guard. A watch that
// the apiserver refuses is retried once per error log period; the guard
// works without it, only slower to take over a released Lease, and with
// standbys reading the Lease from the apiserver.
func (g *Guard) watch(ctx context.Context) {
	namedwatch.Watcher[*coordinationv1.Lease]{
		Name:       g.cfg.name,
		Watch:      g.watcher.Watch,
		Seen:       g.watched,
		Up:         g.watchState,
		MinBackoff: g.cfg.retryPeriod,
		MaxBackoff: maxWatchBackoff,
		After:      g.clock.After,
		Failed: func(err error, wait time.Duration) time.Duration {
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				g.mu.Lock()
				g.logLimitedLocked(&g.errs.watchLog, slog.LevelWarn, "cannot watch the Lease; standbys take over a released Lease on their retry tick instead of at once (grant watch on leases)",
					"watch "+err.Error(), err)
				g.mu.Unlock()
				return max(wait, g.cfg.errorLogPeriod)
			}
			g.log.Debug("lease watch failed", slog.String("lease", g.desc), slog.String("error", err.Error()))
			return wait
		},
	}.Run(ctx)
}

// watched records a Lease seen on the watch and, when nobody holds it,
// makes the elector try at once.
func (g *Guard) watched(lease *coordinationv1.Lease, deleted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if deleted {
		lease = lease.DeepCopy()
		lease.Spec.HolderIdentity = nil
	}
	if g.errs.refused == nil {
		g.succeededLocked() // the apiserver answers
	}
	g.observeLocked(lease)
	if deleted {
		g.seen.forget()
	}
	if g.seen.holder == "" {
		g.kickLocked("the Lease is free")
	}
}
