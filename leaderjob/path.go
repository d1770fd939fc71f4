package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/ledger"
)

// The path of one run attempt, scheduled, caught up or triggered:
//
//	admit    not while the App shuts down; never two runs of a job at once
//	         (a claimed job's fire that comes while its run goes is marked
//	         busy, to be recorded before it is skipped)
//	check    the job's guard says this replica leads (guard.Ask)
//	trace    the attempt's span begins, dated from the attempt's start
//	         (tracing.go); a standby's attempt never gets here
//	claim    the term's fencing token; a busy or paused job's fire is
//	         recorded as handled; a claimed job's fire must be due and this
//	         term's to run in the ledger
//	execute  the term is checked again; the job runs (guard.Call) under its
//	         RunInfo, its timeout, the App's shutdown and an operator's cancel;
//	         its fire lag and the runs in progress are counted
//	record   the ledger's completion (once the job's run lock and its
//	         turn are given back, so that its next attempt's claim can share
//	         the completion's write; but before admission is, so that
//	         shutdown waits for it), then the log record, metrics, notices
//	         and hooks (report)
//
// A stage returns nil to pass the attempt on or a *skip that ends it with
// Outcome guard.Skipped. Stages that take something (admission, the job's
// run lock, a context) give it back through attempt.onDone.

// skip is a stage's decision not to run an attempt: the reason class and
// the error for Result.Err, which wraps guard.ErrSkipped and the cause.
type skip struct {
	reason guard.Reason
	err    error
}

// skipBecause is a skip for reason with cause.
func skipBecause(reason guard.Reason, cause error) *skip {
	return &skip{reason, fmt.Errorf("%w (%s): %w", guard.ErrSkipped, reason, cause)}
}

// stage is one step of the path.
type stage func(*attempt) *skip

// stages is the path in order, built once by New; record follows it in walk.
func (a *App) stages() []stage {
	return []stage{a.admit, a.check, a.traceRun, a.claimFire, a.execute}
}

// walk sends at along the stages until one skips it, then records the
// outcome in the ledger, and gives back what the stages took.
func (a *App) walk(at *attempt) {
	defer at.done()
	for _, st := range a.path {
		if s := st(at); s != nil {
			at.res.Outcome, at.res.Reason, at.res.Err = guard.Skipped, s.reason, s.err
			break
		}
	}
	if at.unlockRun != nil {
		// The job's function has ended: a fire that comes while the
		// completion is written runs (its claim leaves this one open,
		// and the completion then closes it), rather than being skipped
		// for the ledger's latency.
		at.unlockRun()
	}
	if at.endTurn != nil {
		r := at.res
		r.Job, r.RunID, r.ScheduledAt, r.Key, r.CatchUp = at.job.name, at.info.RunID, at.info.ScheduledAt, at.info.Key, at.info.CatchUp
		at.endTurn(r)
	}
	a.settle(at)
}

// admit refuses attempts once shutdown has begun, counting the others so
// that shutdown can wait for them, and an attempt while the previous run of
// the job is going. A scheduled fire that comes while the previous attempt
// has not begun the job's function yet (it waits for the guard or the
// ledger) waits for it, up to admitWait, rather than being skipped for that
// wait. A claimed job's fire that comes while its previous run
// goes is skipped after the claim stage has recorded it as handled (busy),
// so that no catch-up runs it later.
func (a *App) admit(at *attempt) *skip {
	if !a.life.inflight.add() {
		return skipBecause(ReasonShuttingDown, errors.New("the app is shutting down"))
	}
	at.onDone(a.life.inflight.done)
	scheduled := at.kind == scheduledFire || at.kind == startUpFire
	if !at.job.running.take(a.life.base, scheduled && !at.job.calling.Load(), admitWait) {
		if at.job.claims() && scheduled {
			at.busy = true
			return nil
		}
		return errAlreadyRunning()
	}
	at.unlockRun = sync.OnceFunc(at.job.running.give)
	at.onDone(at.unlockRun)
	return nil
}

// admitWait bounds how long a scheduled fire waits for the job's previous
// attempt that has not begun the job's function yet (it waits for the
// guard or the ledger): the guard's answer and a claim's write.
const admitWait = claimTimeout + time.Second

// runLock is a job's run lock: at most one attempt of the job at a time.
type runLock struct{ ch chan struct{} }

func (l *runLock) init() {
	if l.ch == nil {
		l.ch = make(chan struct{}, 1)
	}
}

// take takes the lock at once, or, with wait, within max or until ctx
// ends. It reports whether it took it.
func (l *runLock) take(ctx context.Context, wait bool, max time.Duration) bool {
	select {
	case l.ch <- struct{}{}:
		return true
	default:
	}
	if !wait {
		return false
	}
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case l.ch <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// give gives the lock back.
func (l *runLock) give() { <-l.ch }

// held reports whether an attempt holds the lock.
func (l *runLock) held() bool { return len(l.ch) > 0 }

func errAlreadyRunning() *skip {
	return skipBecause(ReasonAlreadyRunning, errors.New("the previous run has not finished"))
}

// check asks the job's guard and sets the attempt's run context: it ends
// when the caller's does, at shutdown, and when the term ends.
func (a *App) check(at *attempt) *skip {
	ctx, cancel := context.WithCancelCause(at.ctx)
	stop := context.AfterFunc(a.life.base, func() { cancel(context.Cause(a.life.base)) })
	at.onDone(func() { stop(); cancel(nil) })
	res, ok := guard.Ask(ctx, at.job.guard, guard.CheckTimeout(a.opts.checkTimeout))
	at.res.Decision, at.res.CheckDuration = a.withSelf(res.Decision), res.CheckDuration
	if !ok {
		if res.Reason == guard.ReasonCanceled && a.life.base.Err() != nil {
			return skipBecause(ReasonShuttingDown, errors.New("the app is shutting down")) // the check was cut short by the shutdown
		}
		if res.Reason == guard.ReasonNotLeader && a.spreads(at.job) {
			return skipBecause(ReasonNotOwner, fmt.Errorf("spread mode: the job is %s", res.Decision.Detail))
		}
		return &skip{res.Reason, res.Err}
	}
	if lost := res.Decision.Lost; lost != nil {
		// The claim stage's requests end with the term too; the goroutine
		// ends with the context, cancelled by onDone.
		go func() {
			select {
			case <-lost:
				cancel(guard.ErrLeadershipLost)
			case <-ctx.Done():
			}
		}()
	}
	at.run, at.decision = ctx, res.Decision
	return nil
}

// claimFire records a busy fire (its job's run is going) as handled and
// skips it, holds a paused job's fire (claimed, when the job claims, so that
// it counts as handled and no catch-up runs it after the resume), and has
// a claimed job's fire pass the not-due rule and the ledger's claim.
// Operators' manual runs are neither held nor claimed.
func (a *App) claimFire(at *attempt) *skip {
	j := at.job
	if at.kind == manualFire {
		if a.spreads(j) {
			// Not while another replica's run of the job may go on.
			if _, err := a.tokenFor(at.run, at, at.decision); errors.Is(err, ledger.ErrBusy) {
				return skipBecause(ReasonAlreadyRunning, err)
			} else if err != nil {
				return skipBecause(ReasonLedgerUnavailable, err)
			}
		}
		return nil
	}
	if at.busy {
		// Recorded as handled: a fire skipped on purpose is never caught up.
		if s := a.claim(at.run, at, at.decision); s != nil {
			return s
		}
		return errAlreadyRunning()
	}
	if a.paused(at.run, j.name) {
		if j.claims() {
			if s := a.claim(at.run, at, at.decision); s != nil {
				return s
			}
		}
		return skipBecause(ReasonPaused, errors.New("an operator paused the job"))
	}
	if !j.claims() {
		return nil
	}
	if s := a.notDue(at.run, at); s != nil {
		return s
	}
	return a.claim(at.run, at, at.decision)
}

// execute calls the job with a context that carries its RunInfo (with the
// Decision), ends at its timeout and can be cancelled by an operator. It
// first checks again that the term the check saw is still going and the
// App is not shutting down: the claim may have taken a while. A fire
// claimed by an ended term is left open in the ledger, so that the next
// leader runs it (the at-least-once case).
func (a *App) execute(at *attempt) *skip {
	j := at.job
	if s := a.termEnded(at); s != nil {
		at.leaveOpen = true
		return s
	}
	info := at.info
	info.Decision = at.res.Decision
	ctx := context.WithValue(at.run, runInfoKey{}, &info)
	ctx, stopRun := context.WithCancelCause(ctx)
	j.setRunStop(stopRun)
	defer func() { j.setRunStop(nil); stopRun(nil) }()
	if j.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, j.cfg.timeout, ErrRunTimeout)
		defer cancel()
	}
	j.series.RunStarted(at.fire(), a.clock.Since(at.info.ScheduledAt))
	j.calling.Store(true)
	a.signals.changed()
	var o guard.Result
	func() {
		// Deferred: a job that ends its goroutine (runtime.Goexit, as
		// t.FailNow does in a test) still counts as ended.
		defer func() {
			j.calling.Store(false)
			j.series.RunEnded()
			a.signals.changed()
		}()
		o = guard.Call(ctx, at.decision, j.fn)
	}()
	r := &at.res
	r.Outcome, r.Err, r.Duration = o.Outcome, o.Err, o.Duration
	if j.cutShort.Swap(false) && r.Outcome == guard.Failed {
		r.Outcome = guard.Canceled // an operator cut the run short
	}
	return nil
}

// termEnded is the skip of an attempt whose term ended, or whose App began
// to shut down, after the check.
func (a *App) termEnded(at *attempt) *skip {
	select {
	case <-at.decision.Lost:
		return skipBecause(guard.ReasonNotLeader, fmt.Errorf("%w: the leadership term ended before the run started", guard.ErrNotLeader))
	default:
	}
	if a.life.base.Err() != nil {
		return skipBecause(ReasonShuttingDown, errors.New("the app is shutting down"))
	}
	if err := at.run.Err(); err != nil {
		return skipBecause(guard.ReasonCanceled, fmt.Errorf("the run's context ended before the run: %w", context.Cause(at.run)))
	}
	return nil
}

// settle is the first half of record: a start-up fire that was not due
// re-phases the job on the fleet's rhythm, a claimed fire's end goes to the
// ledger, and re-runs and catch-ups are counted.
func (a *App) settle(at *attempt) {
	j := at.job
	if at.res.Reason == ReasonNotDue {
		// The fleet ran it lately: keep its rhythm. Not from this fire's
		// goroutine: gocron would wait for the fire to end. Shutdown waits
		// for it as for a run.
		if a.life.inflight.add() {
			a.signals.workBegan()
			go func() {
				defer a.life.inflight.done()
				defer a.signals.workEnded()
				a.rephase(a.life.base)
			}()
		}
	}
	a.complete(at)
	if at.rerun {
		a.metrics.Rerun(j.name)
	}
	if at.info.CatchUp && at.claimID != "" {
		a.metrics.CatchUp(j.name)
	}
}
