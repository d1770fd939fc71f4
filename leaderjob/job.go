package leaderjob

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// Func is the canonical job signature. The context is the run context: it
// carries RunInfo, ends when the run times out, when the App shuts down and,
// with a guard that can tell, when this replica loses leadership.
// context.Cause(ctx) says which (ErrRunTimeout, guard.ErrShuttingDown,
// guard.ErrLeadershipLost).
type Func func(ctx context.Context) error

// Funcs lists the function shapes Adapt accepts.
type Funcs interface {
	~func() | ~func() error | ~func(context.Context) | ~func(context.Context) error
}

// Adapt turns any of the usual job shapes into a Func, so that
// func(), func() error and func(context.Context) methods can be scheduled
// as they are. A job that takes no context cannot be told to stop; prefer
// a context-aware signature for anything long-running.
func Adapt[F Funcs](f F) Func {
	if reflect.ValueOf(f).IsNil() {
		return nil // App.Schedule reports it
	}
	switch f := any(f).(type) {
	case func():
		return func(context.Context) error { f(); return nil }
	case func() error:
		return func(context.Context) error { return f() }
	case func(context.Context):
		return func(ctx context.Context) error { f(ctx); return nil }
	case func(context.Context) error:
		return f
	}
	// A named type with one of the underlying shapes.
	return adaptNamed(f)
}

// JobOption configures one job at App.Schedule.
type JobOption func(*jobConfig)

type jobConfig struct {
	guard        guard.Guard
	everyReplica bool
	timeout      time.Duration
	catchUp      *CatchUp
	claim        bool
}

// WithCatchUp sets what a new leader does with this job's missed fires
// (default: the App's, LEADERJOB_CATCH_UP, else off). A job with a policy
// other than off claims each fire in the ledger before it runs.
func WithCatchUp(c CatchUp) JobOption { return func(cfg *jobConfig) { cfg.catchUp = &c } }

// WithClaim makes the job claim each fire in the fleet's ledger before it
// runs, without catching up missed fires: its runs and their outcomes then
// show in every replica's /jobs, and a deposed leader's run is refused.
func WithClaim() JobOption { return func(cfg *jobConfig) { cfg.claim = true } }

// WithJobGuard makes this job ask g instead of the App's guard.
func WithJobGuard(g guard.Guard) JobOption {
	return func(c *jobConfig) { c.guard = g }
}

// EveryReplica makes the job run on every replica, unguarded, such as a
// refresh of a local cache. Its runs still never overlap and are still
// logged; the Decision in its RunInfo says Leader with Detail "every replica".
func EveryReplica() JobOption {
	return func(c *jobConfig) { c.everyReplica = true }
}

// WithTimeout bounds each run: the run context is cancelled with cause
// ErrRunTimeout after d. The job must return on its own; Go cannot stop it.
func WithTimeout(d time.Duration) JobOption {
	return func(c *jobConfig) { c.timeout = d }
}

// ErrRunTimeout is the context cause when a run exceeds WithTimeout.
var ErrRunTimeout = errors.New("run timed out")

// everyReplicaGuard answers yes on every replica.
var everyReplicaGuard = guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) {
	return guard.Decision{Leader: true, Detail: "every replica"}, ctx.Err()
})
