// Package namedwatch keeps a watch open on one Kubernetes object, by name
// (a field selector on metadata.name, so that RBAC resourceNames can limit
// it): reopened at once from where it was when it ends normally, started
// over when its resourceVersion is too old, and retried with a growing
// backoff when it fails. The Lease guard and the ledger's ConfigMap backend
// use it.
package namedwatch

import (
	"context"
	"math/rand/v2"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// Watcher describes the watch of one object of type T.
type Watcher[T runtime.Object] struct {
	// Name is the object's name.
	Name string
	// Watch opens a watch, such as a typed client's Watch.
	Watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	// Resync, if set, is called before a watch that starts from nothing
	// (at first, and after the resourceVersion expired): it may read the
	// object and returns the resourceVersion to watch from ("" for now).
	Resync func(ctx context.Context) (string, error)
	// Seen is called for every object the watch delivers; deleted is true
	// for a deletion.
	Seen func(obj T, deleted bool)
	// Up is called with true when a watch opens and with false when one
	// fails (a watch that ends in a normal way is reopened at once and
	// counts as up meanwhile).
	Up func(up bool)
	// Failed is called with the error that ended a watch and the backoff
	// due; it returns how long to wait (it may log, and lengthen the wait
	// for a refusal that needs an operator).
	Failed func(err error, backoff time.Duration) time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed attempts.
	MinBackoff, MaxBackoff time.Duration
	// After waits (default time.After); tests inject a clock.
	After func(time.Duration) <-chan time.Time
}

// Run keeps the watch open until ctx ends.
func (w Watcher[T]) Run(ctx context.Context) {
	after := w.After
	if after == nil {
		after = time.After
	}
	var rv string
	fresh := true // rv is not known: resync first
	backoff := w.MinBackoff
	for ctx.Err() == nil {
		err := w.once(ctx, &rv, &fresh)
		if err == nil || ctx.Err() != nil {
			// Ended in a normal way: reopened at once, from where it was.
			backoff = w.MinBackoff
			continue
		}
		if w.Up != nil {
			w.Up(false)
		}
		wait := backoff
		backoff = min(2*backoff, w.MaxBackoff)
		if w.Failed != nil {
			wait = w.Failed(err, wait)
		}
		select {
		case <-ctx.Done():
		case <-after(wait):
		}
	}
}

// once runs one watch request until it ends, keeping *rv up to date. It
// returns nil when the watch ended in a normal way and can be reopened at
// once.
func (w Watcher[T]) once(ctx context.Context, rv *string, fresh *bool) error {
	if *fresh && w.Resync != nil {
		v, err := w.Resync(ctx)
		if err != nil {
			return err
		}
		*rv = v
	}
	*fresh = false
	timeout := int64(300 + rand.IntN(300))
	wi, err := w.Watch(ctx, metav1.ListOptions{
		FieldSelector:       fields.OneTermEqualSelector("metadata.name", w.Name).String(),
		ResourceVersion:     *rv,
		AllowWatchBookmarks: true,
		TimeoutSeconds:      &timeout,
	})
	if err != nil {
		return err
	}
	defer wi.Stop()
	if w.Up != nil {
		w.Up(true)
	}
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case ev, ok = <-wi.ResultChan():
			if !ok {
				return nil
			}
		}
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			if obj, ok := ev.Object.(T); ok {
				if m, err := meta.Accessor(obj); err == nil {
					*rv = m.GetResourceVersion()
				}
				w.Seen(obj, ev.Type == watch.Deleted)
			}
		case watch.Bookmark:
			if m, err := meta.Accessor(ev.Object); err == nil {
				*rv = m.GetResourceVersion()
			}
		case watch.Error:
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				*rv, *fresh = "", true // start over from the current state
				return nil
			}
			return err
		}
	}
}
