package leaderjob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// Skip reasons added by the App to those of package guard.
const (
	// ReasonShuttingDown: the App was draining when the run was due.
	ReasonShuttingDown guard.Reason = "shutting_down"
	// ReasonAlreadyRunning: the previous run of the job had not finished
	// (a fire or App.Trigger that came while it was going; runs never overlap).
	ReasonAlreadyRunning guard.Reason = "already_running"
)

// Result describes one run attempt. Every attempt, run or skipped, produces
// exactly one Result and one log record.
type Result struct {
	Job         string
	RunID       string
	ScheduledAt time.Time
	// Outcome is guard.Ran, guard.Skipped, guard.Failed, guard.Panicked or
	// guard.Canceled.
	Outcome guard.Outcome
	// Reason is the skip reason class (guard.Reason*, ReasonShuttingDown,
	// ReasonAlreadyRunning); "" unless Outcome is guard.Skipped.
	Reason guard.Reason
	// Err is the job's error, a *guard.PanicError, or why the run was
	// skipped (wrapping guard.ErrSkipped); nil when the job ran and succeeded.
	Err error
	// Decision is the guard's answer.
	Decision guard.Decision
	// CheckDuration is how long the guard took; Duration how long the job ran.
	CheckDuration time.Duration
	Duration      time.Duration
	// Key is the fire's idempotency key, and CatchUp whether the attempt
	// was a catch-up run (see RunInfo).
	Key     string
	CatchUp bool
}

// Trigger runs the named job now, synchronously, through the same path as a
// scheduled fire: the guard is asked, the run is logged and reported. If the
// job is running already the attempt is skipped with ReasonAlreadyRunning.
// The run context ends when ctx does, or at shutdown.
func (a *App) Trigger(ctx context.Context, name string) (Result, error) {
	a.mu.Lock()
	j, ok := a.jobs[name]
	a.mu.Unlock()
	if !ok {
		return Result{}, fmt.Errorf("leaderjob: job %q: %w", name, ErrUnknownJob)
	}
	return a.runOnce(ctx, j, a.clock.Now(), manualFire), nil
}

// fire is the gocron task of job j.
func (a *App) fire(j *job) {
	a.signals.fireStarted()
	defer a.signals.fireFinished()
	at := j.scheduledAt(a.clock.Now())
	if j.claims() {
		a.awaitCatchUp()
	}
	kind := scheduledFire
	if j.fired.CompareAndSwap(false, true) && (j.schedule.kind == kindFixedRate || j.schedule.kind == kindFixedDelay) {
		kind = startUpFire
	}
	a.runOnce(context.Background(), j, at, kind)
}

// runOnce sends one attempt through the pipeline and reports its Result.
func (a *App) runOnce(ctx context.Context, j *job, scheduledAt time.Time, kind fireKind) Result {
	return a.runAttempt(ctx, j, &attempt{ctx: ctx, job: j, kind: kind, info: RunInfo{
		Job: j.name, RunID: a.runSeq.next(), ScheduledAt: scheduledAt,
		Key: a.fireKey(j, scheduledAt), CatchUp: kind == catchUpFire,
	}})
}

// runAttempt sends at through the pipeline and reports its Result.
func (a *App) runAttempt(ctx context.Context, j *job, at *attempt) Result {
	scheduledAt := at.info.ScheduledAt
	a.pipeline(at)
	at.res.Job, at.res.RunID, at.res.ScheduledAt = j.name, at.info.RunID, scheduledAt
	at.res.Key, at.res.CatchUp = at.info.Key, at.info.CatchUp
	a.report(ctx, at.res)
	return at.res
}

// fireKind tells scheduled fires from the others.
type fireKind int

const (
	scheduledFire fireKind = iota
	startUpFire            // the first fire of a fixed-rate or fixed-delay job in this process
	catchUpFire            // a missed fire run by a new leader
	manualFire             // App.Trigger
)

// attempt is one run attempt on its way through the pipeline.
type attempt struct {
	ctx     context.Context
	job     *job
	kind    fireKind
	info    RunInfo
	res     Result
	claimID string // set once the fire is claimed in the ledger
	rerun   bool   // the claim took over a fire a dead term never completed
}

// A stage wraps the rest of the pipeline: it may decide the attempt's
// Result itself (a skip) instead of calling next.
type stage func(next func(*attempt)) func(*attempt)

// newPipeline builds the path of every attempt, once per App: the shutdown
// gate, no overlap, the guard's check and the run context, then the job.
// The job's function itself (with its timeout) runs inside the guard stage,
// which alone knows the Decision and the run's outcome.
func (a *App) newPipeline() func(*attempt) {
	stages := []stage{a.shutdownGate, noOverlap, a.guarded}
	run := func(*attempt) {}
	for i := len(stages) - 1; i >= 0; i-- {
		run = stages[i](run)
	}
	return run
}

// shutdownGate skips attempts once shutdown has begun, and counts the
// others so that shutdown can wait for them.
func (a *App) shutdownGate(next func(*attempt)) func(*attempt) {
	return func(at *attempt) {
		if !a.inflight.add() {
			at.res.skip(ReasonShuttingDown, "the app is shutting down")
			return
		}
		defer a.inflight.done()
		next(at)
	}
}

// noOverlap skips an attempt while the previous run of the job is going.
func noOverlap(next func(*attempt)) func(*attempt) {
	return func(at *attempt) {
		if !at.job.running.TryLock() {
			at.res.skip(ReasonAlreadyRunning, "the previous run has not finished")
			return
		}
		defer at.job.running.Unlock()
		next(at)
	}
}

// guarded asks the job's guard and, if this replica may run, calls the job
// with a run context that carries RunInfo (with the Decision) and ends at
// shutdown, on loss of leadership and at the job's timeout.
func (a *App) guarded(func(*attempt)) func(*attempt) {
	return func(at *attempt) {
		j := at.job
		ctx, cancel := context.WithCancelCause(at.ctx)
		stop := context.AfterFunc(a.base, func() { cancel(context.Cause(a.base)) })
		defer func() { stop(); cancel(nil) }()
		o := guard.Run(ctx, j.guard, func(ctx context.Context) error {
			d, _ := guard.DecisionFrom(ctx)
			if at.kind != manualFire && a.paused(ctx, j.name) {
				// Claimed, so that the fire counts as handled and no
				// catch-up runs it after the resume.
				if j.claims() {
					if err := a.claim(ctx, at, d); err != nil {
						return err
					}
				}
				return &errClaim{ReasonPaused, errors.New("an operator paused the job")}
			}
			if j.claims() && at.kind != manualFire {
				if err := a.notDue(ctx, at); err != nil {
					return err
				}
				if err := a.claim(ctx, at, d); err != nil {
					return err
				}
			}
			info := at.info
			info.Decision = a.withSelf(d)
			ctx = context.WithValue(ctx, runInfoKey{}, &info)
			var stopRun context.CancelCauseFunc
			ctx, stopRun = context.WithCancelCause(ctx)
			j.setRunStop(stopRun)
			defer func() { j.setRunStop(nil); stopRun(nil) }()
			if j.cfg.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeoutCause(ctx, j.cfg.timeout, ErrRunTimeout)
				defer cancel()
			}
			j.calling.Store(true)
			a.signals.changed()
			defer func() { j.calling.Store(false); a.signals.changed() }()
			return j.fn(ctx)
		}, guard.CheckTimeout(a.opts.checkTimeout))
		r := &at.res
		r.Outcome, r.Reason, r.Err, r.Decision = o.Outcome, o.Reason, o.Err, a.withSelf(o.Decision)
		r.CheckDuration, r.Duration = o.CheckDuration, o.Duration
		if j.cutShort.Swap(false) && r.Outcome == guard.Failed {
			r.Outcome = guard.Canceled // an operator cut the run short
		}
		var refused *errClaim
		if errors.As(o.Err, &refused) {
			r.Duration = 0
			r.skip(refused.reason, refused.err.Error())
			if refused.reason == ReasonNotDue {
				// The fleet ran it lately: keep its rhythm. Not from this
				// fire's goroutine: gocron would wait for the fire to end.
				a.signals.workBegan()
				go func() {
					defer a.signals.workEnded()
					a.rephase(a.base)
				}()
			}
		}
		a.complete(at)
		if at.rerun {
			a.metrics.reruns.WithLabelValues(j.name).Inc()
		}
		if at.info.CatchUp && at.claimID != "" {
			a.metrics.catchUps.WithLabelValues(j.name).Inc()
		}
		if r.Reason == guard.ReasonCanceled && a.base.Err() != nil {
			r.skip(ReasonShuttingDown, "the app is shutting down") // the check was cut short by the shutdown
		}
	}
}

// withSelf fills in this replica's identity where a guard leaves it out
// (Always, EveryReplica), so that logs and RunInfo name the replica that ran.
func (a *App) withSelf(d guard.Decision) guard.Decision {
	if d.Self == "" {
		d.Self = a.self
	}
	if d.Leader && d.Holder == "" {
		d.Holder = a.self
	}
	return d
}

// skip sets a skip decided by the App itself.
func (r *Result) skip(reason guard.Reason, why string) {
	r.Outcome, r.Reason = guard.Skipped, reason
	r.Err = fmt.Errorf("%w (%s): %s", guard.ErrSkipped, reason, why)
}

// report writes the one log record of a run attempt and calls the hooks.
func (a *App) report(ctx context.Context, r Result) {
	level := recordLevel(r)
	if r.Outcome == guard.Skipped && isSourceProblem(r.Reason) {
		a.skipWarn.note(ctx, a.logger, r)
	}
	if a.logger.Enabled(ctx, level) {
		attrs := make([]slog.Attr, 0, 13)
		attrs = append(attrs,
			slog.String("job", r.Job),
			slog.String("run_id", r.RunID),
			slog.String("outcome", string(r.Outcome)),
		)
		if r.Reason != "" {
			attrs = append(attrs, slog.String("reason", string(r.Reason)))
		}
		attrs = append(attrs,
			slog.Duration("duration", r.Duration),
			slog.String("holder", r.Decision.Holder),
		)
		if r.Decision.HasEpoch {
			attrs = append(attrs, slog.Int64("epoch", r.Decision.Epoch))
		}
		if r.Err != nil {
			attrs = append(attrs, slog.String("error", r.Err.Error()))
		}
		attrs = append(attrs, slog.Time("scheduled_at", r.ScheduledAt), slog.Duration("check_duration", r.CheckDuration))
		if r.Key != "" {
			attrs = append(attrs, slog.String("key", r.Key))
		}
		if r.CatchUp {
			attrs = append(attrs, slog.Bool("catch_up", true))
		}
		if p, ok := r.Err.(*guard.PanicError); ok {
			attrs = append(attrs, slog.String("stack", string(p.Stack)))
		}
		a.logger.LogAttrs(ctx, level, "job run", attrs...)
	}
	a.metrics.observeRun(r)
	a.notices.run(r)
	for _, h := range a.opts.hooks {
		h(r)
	}
}

// inflight counts running attempts and refuses new ones once closed, so that
// shutdown can wait for exactly the runs that started before it.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed && n == 0
}

func (f *inflight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.closed && f.n == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
}

// close refuses further attempts and returns a channel closed once every
// running attempt has finished.
func (f *inflight) close() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	ch := make(chan struct{})
	if f.n == 0 {
		close(ch)
	} else {
		f.idle = ch
	}
	return ch
}

// runIDs makes run ids unique across replicas and restarts: a random
// per-process prefix and a sequence number.
type runIDs struct {
	once   sync.Once
	prefix string
	seq    atomic.Uint64
}

func (r *runIDs) next() string {
	return r.prefixOf() + "-" + strconv.FormatUint(r.seq.Add(1), 10)
}

// prefixOf is this process's random prefix.
func (r *runIDs) prefixOf() string {
	r.once.Do(func() { r.prefix = rand.Text()[:8] })
	return r.prefix
}

func (j *job) setRunStop(stop context.CancelCauseFunc) {
	j.runMu.Lock()
	j.runStop = stop
	j.runMu.Unlock()
}

// cancelRun ends the context of the job's run in flight, if any, with cause.
func (j *job) cancelRun(cause error) {
	j.runMu.Lock()
	stop := j.runStop
	j.runMu.Unlock()
	if stop != nil {
		j.cutShort.Store(true)
		stop(cause)
	}
}
