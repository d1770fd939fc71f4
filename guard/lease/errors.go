package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/leaderjob/leaderjob/guard"
)

// ErrStarted is returned by Start on a guard that was already started.
var ErrStarted = errors.New("lease guard already started")

// rbacHint names the manifest that grants what the guard needs.
const rbacHint = "examples/kubernetes/lease/rbac.yaml"

// AccessError reports that the apiserver refused the guard's request for a
// reason that retrying alone will not fix: missing RBAC, rejected
// credentials, a missing namespace, or a request it found invalid. It wraps
// the apiserver's error and, for the first three, [guard.ErrForbidden].
// While such a refusal lasts the guard is not ready (see [Guard.Ready]) and
// retries only once per error log period.
type AccessError struct {
	Namespace, Name string
	Verb            string // the refused request: get, create, update
	Err             error  // the apiserver's error

	namespaceSetting string // how to name the namespace setting
}

func (e *AccessError) Error() string {
	switch {
	case apierrors.IsUnauthorized(e.Err):
		return fmt.Sprintf("lease %s/%s: the apiserver rejected this replica's credentials (%v): check the service account token or the KUBECONFIG user",
			e.Namespace, e.Name, e.Err)
	case apierrors.IsNotFound(e.Err):
		setting := e.namespaceSetting
		if setting == "" {
			setting = optionNames.namespace
		}
		return fmt.Sprintf("lease %s/%s: %v: create namespace %q or set %s to an existing one",
			e.Namespace, e.Name, e.Err, e.Namespace, setting)
	case apierrors.IsInvalid(e.Err), apierrors.IsBadRequest(e.Err):
		return fmt.Sprintf("lease %s/%s: the apiserver refused the %s request as invalid (%v): check the Lease name, namespace and durations",
			e.Namespace, e.Name, e.Verb, e.Err)
	default:
		return fmt.Sprintf("%v: grant get, create, update and watch on leases (coordination.k8s.io) in namespace %s to this replica's identity (see %s)",
			e.Err, e.Namespace, rbacHint)
	}
}

// Unwrap returns the apiserver's error, and guard.ErrForbidden unless the
// request was refused as invalid.
func (e *AccessError) Unwrap() []error {
	if apierrors.IsInvalid(e.Err) || apierrors.IsBadRequest(e.Err) {
		return []error{e.Err}
	}
	return []error{guard.ErrForbidden, e.Err}
}

// classify turns a failed election request into the error Check reports,
// or nil when the failure is part of normal operation. verb is the
// request's verb, what the election step (renew, release...), took how long
// it ran.
func (g *Guard) classify(verb, what string, took time.Duration, err error) error {
	switch {
	case timedOut(err):
		// The apiserver is slow or out of reach. Say so without wrapping the
		// deadline error, which callers would take for their own deadline.
		return fmt.Errorf("%w: lease %s: %s request timed out after %v: %v",
			guard.ErrUnavailable, g.desc, what, took.Round(time.Millisecond), err)
	case verb != "create" && apierrors.IsNotFound(err): // there is no Lease (any more): the elector creates it
		return nil
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err): // another replica was faster
		return nil
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsNotFound(err),
		apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return &AccessError{Namespace: g.cfg.namespace, Name: g.cfg.name, Verb: verb, Err: err,
			namespaceSetting: g.cfg.settings.namespace}
	default:
		return fmt.Errorf("%w: lease %s: %s: %w", guard.ErrUnavailable, g.desc, verb, err)
	}
}

// timedOut reports whether a request failed because it, or the apiserver
// working on it, ran out of time.
func timedOut(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		(errors.As(err, &netErr) && netErr.Timeout())
}

// failed records a failed election request sent at sent. Requests
// cancelled because the guard restarted or stopped its elector are not
// failures, nor are answers that are part of normal operation (a conflict,
// no Lease yet); requests cut short by the elector's renew deadline are.
func (g *Guard) failed(ctx context.Context, verb, what string, sent time.Time, err error) {
	if errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	cerr := g.classify(verb, what, g.clock.Since(sent), err)
	g.mu.Lock()
	defer g.mu.Unlock()
	if apierrors.IsConflict(err) {
		g.seen.doubted = true // the Lease seen is not the latest: read it from the apiserver
	}
	if cerr == nil {
		return
	}
	e := &g.errs
	e.last = cerr
	key := "unavailable"
	var access *AccessError
	if errors.As(cerr, &access) {
		key = cerr.Error()
		e.refused, e.refusedAt, e.probing = access, g.clock.Now(), false
	}
	g.logLimitedLocked(&e.log, slog.LevelWarn, "lease request failed", key, cerr)
}

// holdOff returns the refusal that stands while a request refused for a
// reason only an operator can fix was sent less than the error log period
// ago, and nil when the next request may go out: such a problem is retried
// slowly, so that fixing it heals the guard without a flood of requests.
func (g *Guard) holdOff() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := &g.errs
	switch {
	case e.refused == nil || e.probing:
		return nil
	case g.clock.Since(e.refusedAt) < g.cfg.errorLogPeriod:
		return e.refused
	}
	// Requests go out until the refusal comes back or one succeeds: after
	// a fix, a read that finds no Lease must be followed by the create.
	e.probing = true
	return nil
}

// Ready reports an error, naming the cause and the fix, while the
// apiserver refuses the guard's requests for a reason only an operator can
// fix (missing RBAC, rejected credentials, a missing namespace, an invalid
// request); and, with WithRelease, until this replica's first record as a
// hand-off candidate was tried (a moment after Start), so that a rolling
// update does not stop the old leader before it can name this replica. The guard keeps retrying once per error log period, so fixing
// the cause makes it ready again without a restart. It is nil otherwise,
// including while the apiserver is merely unreachable.
func (g *Guard) Ready() error {
	if err := g.handoff.ready(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.errs.refused == nil || g.life.released {
		return nil
	}
	return g.errs.refused
}

// succeededLocked records a successful election request.
func (g *Guard) succeededLocked() {
	e := &g.errs
	e.refused, e.probing = nil, false
	if e.last == nil {
		return
	}
	g.log.Info("lease requests succeed again", slog.String("lease", g.desc), slog.String("after", e.last.Error()))
	e.last = nil
	e.log = logLimit{}
}

// failures is what the guard knows of its failed requests. It is guarded
// by the guard's lock.
type failures struct {
	last      error        // the last election request's error; nil after a success
	refused   *AccessError // a refusal no retry fixes by itself; nil after a success
	refusedAt time.Time    // when it was last refused
	probing   bool         // requests go out again to see whether it was fixed
	log       logLimit     // for election requests' failures
	watchLog  logLimit     // for the watch's
}

// logLimit bounds how often one persisting error is logged.
type logLimit struct {
	key        string
	at         time.Time
	suppressed int
}

// logLimitedLocked logs err unless an error with the same key was logged
// through lim less than the error log period ago; an error with another key
// is logged at once.
func (g *Guard) logLimitedLocked(lim *logLimit, level slog.Level, msg, key string, err error) {
	now := g.clock.Now()
	if key == lim.key && now.Sub(lim.at) < g.cfg.errorLogPeriod {
		lim.suppressed++
		return
	}
	attrs := []slog.Attr{slog.String("lease", g.desc), slog.String("error", err.Error())}
	if lim.suppressed > 0 {
		attrs = append(attrs, slog.Int("repeated", lim.suppressed))
	}
	g.log.LogAttrs(context.Background(), level, msg, attrs...)
	*lim = logLimit{key: key, at: now}
}
