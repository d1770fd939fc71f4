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

	"go.opentelemetry.io/otel/trace"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/wire"
)

// Skip reasons added by the App to those of package guard.
const (
	// ReasonShuttingDown: the App was draining when the run was due.
	ReasonShuttingDown = guard.Reason(wire.SkipShuttingDown)
	// ReasonAlreadyRunning: the previous run of the job had not finished
	// (a fire or App.Trigger that came while it was going; runs never overlap).
	ReasonAlreadyRunning = guard.Reason(wire.SkipAlreadyRunning)
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
	var endTurn func(Result)
	if j.claims() {
		done := sync.OnceFunc(j.turns.scheduled(a.life.base))
		defer done()
		endTurn = func(Result) { done() }
		at = a.fleetSlot(j, at)
	}
	kind := scheduledFire
	if j.fired.CompareAndSwap(false, true) && (j.schedule.kind == kindFixedRate || j.schedule.kind == kindFixedDelay) {
		kind = startUpFire
	}
	a.runAttempt(context.Background(), j, a.newAttempt(context.Background(), j, at, kind, endTurn))
}

// runOnce sends one attempt through the pipeline and reports its Result.
func (a *App) runOnce(ctx context.Context, j *job, scheduledAt time.Time, kind fireKind) Result {
	return a.runAttempt(ctx, j, a.newAttempt(ctx, j, scheduledAt, kind, nil))
}

// newAttempt is an attempt of j's fire at scheduledAt; endTurn, if not
// nil, is called once its stages are over (attempt.endTurn).
func (a *App) newAttempt(ctx context.Context, j *job, scheduledAt time.Time, kind fireKind, endTurn func(Result)) *attempt {
	return &attempt{ctx: ctx, job: j, kind: kind, endTurn: endTurn, info: RunInfo{
		Job: j.name, RunID: a.runSeq.next(), ScheduledAt: scheduledAt,
		Key: a.fireKey(j, scheduledAt), CatchUp: kind == catchUpFire,
	}}
}

// runAttempt sends at along the path (walk) and reports its Result.
func (a *App) runAttempt(ctx context.Context, j *job, at *attempt) Result {
	at.began = time.Now()
	func() {
		defer a.endSpan(at) // also when the job ends its goroutine
		a.walk(at)
	}()
	if at.ledgerBack {
		a.catchUpAfterOutage()
	}
	at.res.Job, at.res.RunID, at.res.ScheduledAt = j.name, at.info.RunID, at.info.ScheduledAt
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

// attempt is one run attempt on its way along the path (path.go).
type attempt struct {
	ctx      context.Context // the caller's
	job      *job
	kind     fireKind
	info     RunInfo
	res      Result
	run      context.Context // set by check: ends at shutdown and with the term
	decision guard.Decision  // the guard's answer, set by check
	claimID  string          // set once the fire is claimed in the ledger
	token    int64           // the claiming term's fencing token
	rerun    bool            // the claim took over a fire a dead term never completed
	// leaveOpen: the fire was claimed but not run (its term ended): no
	// completion is written, so that the next leader runs it.
	leaveOpen bool
	// busy: the job's previous run was going when the attempt came; the
	// fire is claimed (recorded as handled), then skipped.
	busy bool
	// ledgerBack: the attempt's claim was the first to succeed after one
	// failed (the ledger is back): a catch-up follows it.
	ledgerBack bool
	undo       []func() // what the stages took, given back by done
	unlockRun  func()   // gives the job's run lock back (once), set by admit
	// endTurn, when set, is called once the stages are over (the job's
	// function has ended, or the attempt was skipped), before the
	// completion is written, with the outcome so far: the job's turn ends
	// there (turns), so that its next attempt's claim can share a ledger
	// write with this one's completion.
	endTurn func(Result)
	began   time.Time  // when the attempt began (wall clock, for its span)
	span    trace.Span // the attempt's span, set by traceRun; nil when none began
}

// onDone has done call fn; done calls them in reverse order.
func (at *attempt) onDone(fn func()) { at.undo = append(at.undo, fn) }

// done gives back what the stages took, last taken first.
func (at *attempt) done() {
	for i := len(at.undo) - 1; i >= 0; i-- {
		at.undo[i]()
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

// report writes the one log record of a run attempt and calls the hooks.
func (a *App) report(ctx context.Context, r Result) {
	level := recordLevel(r, a.spreadsJob(r.Job))
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
	a.observeRun(r)
	a.notices.Run(r.Job, r.Outcome, r.Err, r.CatchUp, r.ScheduledAt)
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
