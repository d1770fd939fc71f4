package lease

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// maxWatchBackoff caps the wait between failed attempts to open the watch.
const maxWatchBackoff = 30 * time.Second

// watch keeps a watch open on the Lease object (by name, so resourceNames
// in RBAC can limit it) and feeds what it sees to the guard. A watch that
// the apiserver refuses is retried once per error log period; the guard
// works without it, only slower to take over a released Lease, and with
// standbys reading the Lease from the apiserver.
func (g *Guard) watch(ctx context.Context) {
	var rv string
	backoff := g.cfg.retryPeriod
	for ctx.Err() == nil {
		err := g.watchOnce(ctx, &rv)
		if err == nil || ctx.Err() != nil {
			// A watch that ended in a normal way is reopened at once, from
			// where it was: reads stay served by the watch.
			backoff = g.cfg.retryPeriod
			continue
		}
		g.watchState(false)
		wait := backoff
		backoff = min(2*backoff, maxWatchBackoff)
		if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
			wait = max(wait, g.cfg.errorLogPeriod)
			g.mu.Lock()
			g.logLimitedLocked(&g.errs.watchLog, slog.LevelWarn, "cannot watch the Lease; standbys take over a released Lease on their retry tick instead of at once (grant watch on leases)",
				"watch "+err.Error(), err)
			g.mu.Unlock()
		} else {
			g.log.Debug("lease watch failed", slog.String("lease", g.desc), slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
		case <-g.clock.After(wait):
		}
	}
}

// watchOnce runs one watch request from *rv ("" = current state first) until
// it ends, keeping *rv up to date. It returns nil when the watch ended in a
// normal way (timeout, expired resourceVersion) and can be reopened at once.
func (g *Guard) watchOnce(ctx context.Context, rv *string) error {
	timeout := int64(300 + rand.IntN(300))
	w, err := g.watcher.Watch(ctx, metav1.ListOptions{
		FieldSelector:       fields.OneTermEqualSelector("metadata.name", g.cfg.name).String(),
		ResourceVersion:     *rv,
		AllowWatchBookmarks: true,
		TimeoutSeconds:      &timeout,
	})
	if err != nil {
		return err
	}
	defer w.Stop()
	g.watchState(true)
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case ev, ok = <-w.ResultChan():
			if !ok {
				return nil
			}
		}
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			if lease, ok := ev.Object.(*coordinationv1.Lease); ok {
				*rv = lease.ResourceVersion
				g.watched(lease, ev.Type == watch.Deleted)
			}
		case watch.Bookmark:
			if m, err := meta.Accessor(ev.Object); err == nil {
				*rv = m.GetResourceVersion()
			}
		case watch.Error:
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				*rv = "" // start over from the current state
				return nil
			}
			return err
		}
	}
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
