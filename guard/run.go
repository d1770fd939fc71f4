package guard

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// DefaultCheckTimeout bounds one Check made by Run when no CheckTimeout
// option is given. It is short on purpose: a run that cannot learn in time
// whether it may go ahead is skipped, not delayed.
const DefaultCheckTimeout = 2 * time.Second

// Outcome classifies one run attempt.
type Outcome string

// The kinds of outcome: stable strings (package wire defines them), used as
// log values and metric labels.
const (
	Ran      = Outcome(wire.OutcomeRan)      // the job was called and returned nil
	Skipped  = Outcome(wire.OutcomeSkipped)  // the job was not called; Result.Reason says why
	Failed   = Outcome(wire.OutcomeFailed)   // the job was called and returned an error
	Panicked = Outcome(wire.OutcomePanicked) // the job was called and panicked; the panic was recovered
	// Canceled: the job was called and returned an error after its context
	// was cancelled from outside the job, with cause ErrLeadershipLost or
	// ErrShuttingDown: the run was cut short, it did not fail on its own.
	Canceled = Outcome(wire.OutcomeCanceled)
)

// Reason is the class of a skipped run: a short, stable string for logs and
// metric labels. The full explanation is in Result.Err.
type Reason string

// Skip reasons.
const (
	ReasonNotLeader     = Reason(wire.SkipNotLeader)     // another replica leads, or the term ended
	ReasonLeaderUnknown = Reason(wire.SkipLeaderUnknown) // the source named no leader
	ReasonStale         = Reason(wire.SkipStale)         // the source's answer was too old
	ReasonUnavailable   = Reason(wire.SkipUnavailable)   // the source could not be asked
	ReasonForbidden     = Reason(wire.SkipForbidden)     // the source refused our credentials
	ReasonTimeout       = Reason(wire.SkipTimeout)       // the check did not answer within its deadline
	ReasonReleased      = Reason(wire.SkipReleased)      // the guard has given up leadership for good
	ReasonCanceled      = Reason(wire.SkipCanceled)      // the caller's context ended before the run
	ReasonGuardError    = Reason(wire.SkipGuardError)    // any other error from the guard
)

// ErrSkipped is wrapped by Result.Err (and by the error a [Wrap]ped job
// returns) whenever a run is skipped.
var ErrSkipped = errors.New("run skipped")

// Result describes one run attempt made by [Run].
type Result struct {
	Outcome Outcome
	// Reason is one of the Reason* classes when Outcome is Skipped, else "".
	Reason Reason
	// Err is nil for Ran; the job's error for Failed and Canceled; a *PanicError for
	// Panicked; for Skipped an error wrapping ErrSkipped and the cause
	// (ErrNotLeader or the guard's error).
	Err error
	// Decision is the guard's answer (zero when the guard returned an error).
	Decision Decision
	// CheckDuration is how long the guard took to answer.
	CheckDuration time.Duration
	// Duration is how long the job ran (zero when skipped).
	Duration time.Duration
}

// PanicError is the Result.Err of a job that panicked.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Option configures [Run] and [Wrap].
type Option func(*runConfig)

type runConfig struct{ checkTimeout time.Duration }

// CheckTimeout bounds how long Run waits for the guard's answer; a guard
// that has not answered by then skips the run with reason timeout. A value
// of zero or less means DefaultCheckTimeout.
func CheckTimeout(d time.Duration) Option {
	return func(c *runConfig) { c.checkTimeout = d }
}

// Run asks g whether this replica leads and, only if it does, calls fn.
//
// The check runs under ctx and a deadline (see CheckTimeout). fn receives a
// context derived from ctx that carries the Decision (see DecisionFrom) and
// that is cancelled with cause ErrLeadershipLost when the Decision's Lost
// channel closes. A panic in fn is recovered into a *PanicError. Run never
// calls fn when ctx has already ended, when g returns an error, or when the
// Decision does not say Leader.
func Run(ctx context.Context, g Guard, fn func(context.Context) error, opts ...Option) Result {
	res, ok := Ask(ctx, g, opts...)
	if !ok {
		return res
	}
	o := Call(ctx, res.Decision, fn)
	o.CheckDuration = res.CheckDuration
	return o
}

// Ask is the first half of [Run]: it asks g, under ctx and the check
// deadline (see CheckTimeout), whether this replica may run now. ok is true
// when the Decision says Leader and its term has not ended; res then holds
// the Decision and CheckDuration. Otherwise res is the skipped Result that
// Run returns. A caller that puts steps of its own between the check and the
// run (a claim in a ledger, say) calls Ask, then [Call].
func Ask(ctx context.Context, g Guard, opts ...Option) (res Result, ok bool) {
	cfg := runConfig{checkTimeout: DefaultCheckTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.checkTimeout <= 0 {
		cfg.checkTimeout = DefaultCheckTimeout
	}
	if err := ctx.Err(); err != nil {
		return skip(ReasonCanceled, fmt.Errorf("context ended before the check: %w", context.Cause(ctx)), Decision{}, 0), false
	}
	start := time.Now()
	d, err := check(ctx, g, cfg.checkTimeout)
	checked := time.Since(start)
	switch {
	case err != nil:
		return skip(ReasonOf(err), err, Decision{}, checked), false
	case !d.Leader:
		return skip(ReasonNotLeader, notLeaderError(d), d, checked), false
	case isClosed(d.Lost):
		return skip(ReasonNotLeader, fmt.Errorf("%w: leadership term ended before the run started", ErrNotLeader), d, checked), false
	}
	return Result{Decision: d, CheckDuration: checked}, true
}

// Call is the second half of [Run]: it calls fn under d, a Decision that
// [Ask] allowed. fn receives a context derived from ctx that carries d (see
// DecisionFrom) and that is cancelled with cause ErrLeadershipLost when d's
// Lost channel closes. A panic in fn is recovered into a *PanicError. The
// Result's Outcome is Ran, Failed, Panicked or Canceled; its CheckDuration
// is zero.
func Call(ctx context.Context, d Decision, fn func(context.Context) error) Result {
	runCtx := withDecision(ctx, d)
	if d.Lost != nil {
		var cancel context.CancelCauseFunc
		runCtx, cancel = context.WithCancelCause(runCtx)
		finished := make(chan struct{})
		go func() {
			select {
			case <-d.Lost:
				cancel(ErrLeadershipLost)
			case <-finished:
			}
		}()
		defer func() { close(finished); cancel(nil) }()
	}
	started := time.Now()
	err := call(runCtx, fn)
	o := Result{Outcome: Ran, Decision: d, Duration: time.Since(started)}
	if err != nil {
		o.Outcome, o.Err = Failed, err
		if _, ok := err.(*PanicError); ok {
			o.Outcome = Panicked
		} else if cause := context.Cause(runCtx); runCtx.Err() != nil &&
			(errors.Is(cause, ErrLeadershipLost) || errors.Is(cause, ErrShuttingDown)) {
			o.Outcome = Canceled
		}
	}
	return o
}

// Wrap returns fn guarded by g: each call of the result does what [Run]
// does and returns nil if fn ran and succeeded, fn's error or a *PanicError
// if it failed, and an error wrapping ErrSkipped if it was skipped.
func Wrap(g Guard, fn func(context.Context) error, opts ...Option) func(context.Context) error {
	return func(ctx context.Context) error { return Run(ctx, g, fn, opts...).Err }
}

func check(ctx context.Context, g Guard, timeout time.Duration) (d Decision, err error) {
	checkCtx, cancel := context.WithTimeoutCause(ctx, timeout, errCheckTimeout{timeout})
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			d, err = Decision{}, fmt.Errorf("guard panicked: %v", r)
		}
	}()
	d, err = g.Check(checkCtx)
	if err == nil {
		err = context.Cause(checkCtx) // an answer that came after the deadline is not trusted
	}
	// Only the check's own deadline is a timeout of the check. A guard that
	// answered in time with an error of its own (an election request that
	// timed out upstream, say) keeps that error and its class.
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(checkCtx), errCheckTimeout{}) {
		err = errCheckTimeout{timeout}
	}
	return d, err
}

// errCheckTimeout is the error of a check that missed its deadline.
type errCheckTimeout struct{ after time.Duration }

func (e errCheckTimeout) Error() string {
	return fmt.Sprintf("guard did not answer within %v", e.after)
}
func (errCheckTimeout) Is(target error) bool {
	_, ok := target.(errCheckTimeout)
	return ok || target == context.DeadlineExceeded
}

func call(ctx context.Context, fn func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

func skip(reason Reason, cause error, d Decision, checked time.Duration) Result {
	return Result{
		Outcome:       Skipped,
		Reason:        reason,
		Err:           fmt.Errorf("%w (%s): %w", ErrSkipped, reason, cause),
		Decision:      d,
		CheckDuration: checked,
	}
}

func notLeaderError(d Decision) error {
	switch {
	case d.Detail != "":
		return fmt.Errorf("%w: %s", ErrNotLeader, d.Detail)
	case d.Holder != "":
		return fmt.Errorf("%w: leader is %q", ErrNotLeader, d.Holder)
	default:
		return ErrNotLeader
	}
}

// ReasonOf classifies a guard error into one of the Reason* constants.
func ReasonOf(err error) Reason {
	var timeout errCheckTimeout
	switch {
	case err == nil:
		return ""
	case errors.As(err, &timeout):
		return ReasonTimeout
	case errors.Is(err, ErrForbidden):
		return ReasonForbidden
	case errors.Is(err, ErrReleased):
		return ReasonReleased
	case errors.Is(err, ErrStale):
		return ReasonStale
	case errors.Is(err, ErrLeaderUnknown):
		return ReasonLeaderUnknown
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrLeadershipLost):
		return ReasonNotLeader
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// A deadline that is not the check's own is the source's request
		// timing out: the source could not be asked in time.
		return ReasonUnavailable
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	default:
		return ReasonGuardError
	}
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

type decisionKey struct{}

// withDecision returns a copy of ctx that carries d. Only Run sets it, so
// the epoch DecisionFrom returns is always the one the guard gave.
func withDecision(ctx context.Context, d Decision) context.Context {
	return context.WithValue(ctx, decisionKey{}, &d)
}

// DecisionFrom returns the Decision under which the current run was allowed,
// as put there by Run. ok is false outside a guarded run.
func DecisionFrom(ctx context.Context) (d Decision, ok bool) {
	p, ok := ctx.Value(decisionKey{}).(*Decision)
	if !ok {
		return Decision{}, false
	}
	return *p, true
}
