package leaderjob

import (
	"context"
	"crypto/rand"
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
	ReasonShuttingDown = "shutting_down"
	// ReasonAlreadyRunning: the previous run of the job had not finished
	// (a fire or App.Trigger that came while it was going; runs never overlap).
	ReasonAlreadyRunning = "already_running"
)

// Result describes one run attempt. Every attempt, run or skipped, produces
// exactly one Result and one log record.
type Result struct {
	Job         string
	RunID       string
	ScheduledAt time.Time
	// Outcome is guard.Ran, guard.Skipped, guard.Failed or guard.Panicked.
	Outcome guard.Kind
	// Reason is the skip reason class (guard.Reason*, ReasonShuttingDown,
	// ReasonAlreadyRunning); "" unless Outcome is guard.Skipped.
	Reason string
	// Err is the job's error, a *guard.PanicError, or why the run was
	// skipped (wrapping guard.ErrSkipped); nil when the job ran and succeeded.
	Err error
	// Decision is the guard's answer.
	Decision guard.Decision
	// CheckDuration is how long the guard took; Duration how long the job ran.
	CheckDuration time.Duration
	Duration      time.Duration
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
	return a.runOnce(ctx, j, a.clock.Now()), nil
}

// fire is the gocron task of job j.
func (a *App) fire(j *job) {
	a.signals.fireStarted()
	defer a.signals.fireFinished()
	at := a.clock.Now()
	if j.cron != nil {
		if instant, ok := j.cron.firedAt(at); ok {
			at = instant
		}
	}
	a.runOnce(context.Background(), j, at)
}

func (a *App) runOnce(ctx context.Context, j *job, scheduledAt time.Time) Result {
	info := &RunInfo{Job: j.name, RunID: a.runSeq.next(), ScheduledAt: scheduledAt}
	res := Result{Job: info.Job, RunID: info.RunID, ScheduledAt: scheduledAt}

	switch {
	case !a.inflight.add():
		res.Outcome, res.Reason = guard.Skipped, ReasonShuttingDown
		res.Err = fmt.Errorf("%w (%s): the app is shutting down", guard.ErrSkipped, ReasonShuttingDown)
	case !j.running.TryLock():
		a.inflight.done()
		res.Outcome, res.Reason = guard.Skipped, ReasonAlreadyRunning
		res.Err = fmt.Errorf("%w (%s): the previous run has not finished", guard.ErrSkipped, ReasonAlreadyRunning)
	default:
		runCtx, cancel := context.WithCancelCause(context.WithValue(ctx, runInfoKey{}, info))
		stop := context.AfterFunc(a.base, func() { cancel(context.Cause(a.base)) })
		o := guard.Run(runCtx, j.guard, a.timed(j), guard.CheckTimeout(a.opts.checkTimeout))
		stop()
		cancel(nil)
		j.running.Unlock()
		a.inflight.done()
		res.Outcome, res.Reason, res.Err, res.Decision = o.Kind, o.Reason, o.Err, o.Decision
		res.CheckDuration, res.Duration = o.CheckDuration, o.Duration
	}
	a.report(ctx, res)
	return res
}

// timed applies the job's run timeout around its function.
func (a *App) timed(j *job) func(context.Context) error {
	return func(ctx context.Context) error {
		j.calling.Store(true)
		a.signals.changed()
		defer func() { j.calling.Store(false); a.signals.changed() }()
		if j.cfg.timeout <= 0 {
			return j.fn(ctx)
		}
		ctx, cancel := context.WithTimeoutCause(ctx, j.cfg.timeout, ErrRunTimeout)
		defer cancel()
		return j.fn(ctx)
	}
}

// report writes the one log record of a run attempt and calls the hooks.
func (a *App) report(ctx context.Context, r Result) {
	level := slog.LevelInfo
	if r.Outcome == guard.Failed || r.Outcome == guard.Panicked {
		level = slog.LevelError
	}
	if a.logger.Enabled(ctx, level) {
		attrs := make([]slog.Attr, 0, 11)
		attrs = append(attrs,
			slog.String("job", r.Job),
			slog.String("run_id", r.RunID),
			slog.String("outcome", string(r.Outcome)),
		)
		if r.Reason != "" {
			attrs = append(attrs, slog.String("reason", r.Reason))
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
		if p, ok := r.Err.(*guard.PanicError); ok {
			attrs = append(attrs, slog.String("stack", string(p.Stack)))
		}
		a.logger.LogAttrs(ctx, level, "job run", attrs...)
	}
	a.metrics.observeRun(r)
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
	r.once.Do(func() { r.prefix = rand.Text()[:8] })
	return r.prefix + "-" + strconv.FormatUint(r.seq.Add(1), 10)
}
