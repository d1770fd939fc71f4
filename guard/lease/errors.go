package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/leaderjob/leaderjob/guard"
)

// ErrStarted is returned by Start on a guard that was already started.
var ErrStarted = errors.New("lease guard already started")

// RBACHint names the manifest that grants what the guard needs.
const RBACHint = "examples/kubernetes/lease/rbac.yaml"

// AccessError reports that the apiserver refused the guard's request for a
// reason that retrying will not fix: missing RBAC, rejected credentials, or
// a missing namespace. It wraps [guard.ErrForbidden] and the apiserver's
// error.
type AccessError struct {
	Namespace, Name string
	Verb            string // the refused request: get, create, update
	Err             error  // the apiserver's error
}

func (e *AccessError) Error() string {
	switch {
	case apierrors.IsUnauthorized(e.Err):
		return fmt.Sprintf("lease %s/%s: the apiserver rejected this replica's credentials (%v): check the service account token or the KUBECONFIG user",
			e.Namespace, e.Name, e.Err)
	case apierrors.IsNotFound(e.Err):
		return fmt.Sprintf("lease %s/%s: %v: create namespace %q or set %s to an existing one",
			e.Namespace, e.Name, e.Err, e.Namespace, EnvLeaseNamespace)
	default:
		return fmt.Sprintf("%v: grant get, create, update and watch on leases (coordination.k8s.io) in namespace %s to this replica's identity (see %s)",
			e.Err, e.Namespace, RBACHint)
	}
}

// Unwrap returns guard.ErrForbidden and the apiserver's error.
func (e *AccessError) Unwrap() []error { return []error{guard.ErrForbidden, e.Err} }

// classify turns a failed election request into the error Check reports,
// or nil when the failure is part of normal operation.
func (g *Guard) classify(verb string, err error) error {
	switch {
	case verb == "get" && apierrors.IsNotFound(err): // the elector creates it next
		return nil
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err): // another replica was faster
		return nil
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsNotFound(err):
		return &AccessError{Namespace: g.cfg.namespace, Name: g.cfg.name, Verb: verb, Err: err}
	default:
		return fmt.Errorf("%w: lease %s: %s: %w", guard.ErrUnavailable, g.desc, verb, err)
	}
}

// failed records a failed election request. Requests cancelled because the
// guard restarted or stopped its elector are not failures.
func (g *Guard) failed(ctx context.Context, verb string, err error) {
	if ctx.Err() != nil {
		return
	}
	cerr := g.classify(verb, err)
	if cerr == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.apiErr = cerr
	level, key := slog.LevelWarn, "unavailable"
	var access *AccessError
	if errors.As(cerr, &access) {
		level, key = slog.LevelError, cerr.Error()
	}
	g.logLimitedLocked(&g.errLog, level, "lease request failed", key, cerr)
}

// succeeded records a successful election request.
func (g *Guard) succeededLocked() {
	if g.apiErr == nil {
		return
	}
	g.log.Info("lease requests succeed again", slog.String("lease", g.desc), slog.String("after", g.apiErr.Error()))
	g.apiErr = nil
	g.errLog = logLimit{}
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
	now := time.Now()
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
