package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"syscall"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/leaderjob/leaderjob/guard"
)

// Run starts the guard and the scheduler and blocks until ctx ends or, unless
// WithoutSignals was given, SIGINT or SIGTERM arrives. It then shuts down in
// an order that never lets two replicas run the same job:
//
//  1. stop scheduling: fires due from now on are skipped (shutting_down);
//  2. cancel the contexts of running jobs (cause guard.ErrShuttingDown) and
//     wait for them to return, at most the drain timeout;
//  3. only if every job returned, release the guard, so a Lease is handed to
//     a standby at once. If a job is still running, leadership is not
//     released: it expires on its own, and the error says so.
//
// A second signal during shutdown ends the process at once (Go's default).
// Run returns nil after a clean shutdown, otherwise an error naming what
// failed. An App runs once.
func (a *App) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return fmt.Errorf("leaderjob: %w", ErrAlreadyRun)
	}
	a.started = true
	a.mu.Unlock()

	stopSignals := func() {}
	if !a.opts.noSignals {
		ctx, stopSignals = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	}
	defer stopSignals()

	stopHTTP, err := a.serveHTTP()
	if err != nil {
		return err
	}
	defer stopHTTP()

	// The guards outlive ctx: they must keep leadership while jobs drain.
	guardCtx, stopGuard := context.WithCancel(context.WithoutCancel(ctx))
	defer stopGuard()
	if a.spread != nil {
		a.spread.publish()
	}
	if err := a.startGuards(guardCtx); err != nil {
		return err
	}
	if a.spread != nil {
		a.spread.recompute()
		go a.spread.run(guardCtx)
	}
	if s, ok := a.fires.ledger.(guard.Starter); ok && a.anyClaims() {
		if err := s.Start(guardCtx); err != nil {
			return errors.Join(fmt.Errorf("leaderjob: starting the ledger: %w", err), a.release())
		}
	}
	if a.ctl.controls != nil {
		if s, ok := a.ctl.controls.(guard.Starter); ok {
			if err := s.Start(guardCtx); err != nil {
				return errors.Join(fmt.Errorf("leaderjob: starting the controls: %w", err), a.release())
			}
		}
	}
	if s, ok := a.notices.N.(guard.Starter); ok {
		if err := s.Start(guardCtx); err != nil {
			a.logger.Warn("notices for operators cannot be sent", "error", err.Error())
		}
	}
	if s, ok := a.notices.N.(interface{ Stop() }); ok {
		defer s.Stop()
	}
	a.awaitLeaderKnown(ctx)

	if err := a.startScheduler(); err != nil {
		return errors.Join(err, a.release())
	}
	a.life.state.Store(stateRunning)
	close(a.life.running)
	a.logStart()
	if a.ctl.controls != nil {
		go a.controlLoop(a.life.base)
	}

	<-ctx.Done()
	stopSignals() // from here on a second signal terminates the process
	a.logger.Info("shutting down", slog.String("app", a.name), slog.String("cause", shutdownCause(ctx)),
		slog.Duration("drain_timeout", a.opts.drainTimeout))
	return a.shutdown()
}

// awaitLeaderKnown waits, at most the startup grace, until the App's guard
// gives an answer other than "leader unknown", so that the fires due at
// start find the election begun. It also sets is_leader and the holder
// from the start rather than from the first run.
func (a *App) awaitLeaderKnown(ctx context.Context) {
	grace := DefaultStartupGrace
	if a.opts.startupGrace != nil {
		grace = *a.opts.startupGrace
	}
	deadline := time.Now().Add(grace)
	for {
		d, err := a.leader.probe(ctx)
		// A Lease that already names this replica while its own term has
		// not begun (its acquisition is in flight: the watch saw the write
		// before the elector's answer came back) is not yet an answer
		// either: starting now would skip the start-up fires as not_leader.
		acquiring := err == nil && !d.Leader && d.Holder == a.self
		// In spread mode, also until this replica is a member: its first
		// record is being written.
		joining := a.spread != nil && !a.spread.isMember()
		if (!errors.Is(err, guard.ErrLeaderUnknown) && !acquiring && !joining) || !time.Now().Before(deadline) || ctx.Err() != nil {
			if err != nil {
				a.logger.Debug("starting the scheduler", slog.String("guard_answer", err.Error()))
			}
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func shutdownCause(ctx context.Context) string {
	if err := context.Cause(ctx); err != nil {
		return err.Error()
	}
	return "context done"
}

func (a *App) startScheduler() error {
	sched, err := gocron.NewScheduler(
		gocron.WithClock(a.clock),
		gocron.WithLogger(gocronLogger{a.logger.With(slog.String("component", "gocron"))}),
		gocron.WithStopTimeout(time.Second), // runs are drained by shutdown before gocron stops
		gocron.WithMonitor(a.metrics.Monitor()),
	)
	if err != nil {
		return fmt.Errorf("leaderjob: creating scheduler: %w", err)
	}
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.order {
		if j.schedule.IsDisabled() {
			continue
		}
		if j.schedule.kind == kindCron {
			j.cron = newSpringCron(j.schedule.zone)
		}
		def, opts := j.schedule.gocronJob(now, j.cron)
		opts = append(opts, gocron.WithName(j.name))
		gj, err := sched.NewJob(def, gocron.NewTask(a.fire, j), opts...)
		if err != nil {
			_ = sched.Shutdown()
			return fmt.Errorf("leaderjob: job %q: scheduling %s: %w", j.name, j.schedule, err)
		}
		j.gocronID = gj.ID()
	}
	a.sched = sched
	sched.Start()
	return nil
}

// logStart writes the start-up summary: the guard and each job with its
// schedule and next fire time.
func (a *App) logStart() {
	a.logger.Info("started", slog.String("app", a.name), slog.String("self", a.self),
		slog.String("guard", a.source.name), slog.Any("guard_config", slog.GroupValue(a.source.attrs...)),
		slog.Int("jobs", len(a.order)))
	next := a.nextRuns() // a one-shot job that has fired has none
	for _, j := range a.order {
		attrs := []slog.Attr{slog.String("job", j.name), slog.String("schedule", j.schedule.String())}
		switch {
		case j.schedule.IsDisabled():
			a.logger.LogAttrs(context.Background(), slog.LevelInfo, "job disabled", attrs...)
			continue
		case j.cfg.everyReplica:
			attrs = append(attrs, slog.Bool("every_replica", true))
		}
		if t, ok := next[j.name]; ok {
			attrs = append(attrs, slog.Time("next_run", t))
		}
		a.logger.LogAttrs(context.Background(), slog.LevelInfo, "job scheduled", attrs...)
	}
}

func (a *App) shutdown() error {
	a.life.state.Store(stateDraining)
	defer a.life.state.Store(stateStopped)
	idle := a.life.inflight.close()
	a.life.cancelBase(guard.ErrShuttingDown)
	var errs []error
	drained := true
	timer := a.clock.NewTimer(a.opts.drainTimeout)
	select {
	case <-idle:
		timer.Stop()
	case <-timer.Chan():
		drained = false
		errs = append(errs, fmt.Errorf("leaderjob: %w (%v): %v; leadership was not released and will expire on its own",
			ErrDrainTimeout, a.opts.drainTimeout, a.runningJobs()))
	}
	if a.sched != nil {
		if err := a.sched.Shutdown(); err != nil && drained {
			errs = append(errs, fmt.Errorf("leaderjob: stopping scheduler: %w", err))
		}
	}
	if drained {
		errs = append(errs, a.release())
	}
	err := errors.Join(errs...)
	if err != nil {
		a.logger.Error("stopped with errors", slog.String("app", a.name), slog.String("error", err.Error()))
	} else {
		a.logger.Info("stopped", slog.String("app", a.name))
	}
	return err
}

// guards lists the distinct guards the App uses: its own, then those given
// to jobs with WithJobGuard, in registration order.
func (a *App) guards() []guard.Guard {
	a.mu.Lock()
	defer a.mu.Unlock()
	list := []guard.Guard{a.source.guard}
	for _, j := range a.order {
		g := j.cfg.guard
		if g == nil || j.cfg.everyReplica {
			continue
		}
		if !slices.ContainsFunc(list, func(h guard.Guard) bool { return sameGuard(g, h) }) {
			list = append(list, g)
		}
	}
	return list
}

// sameGuard reports whether a and b are the same guard value; guards whose
// type cannot be compared (functions) are never the same as another.
func sameGuard(a, b guard.Guard) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// startGuards starts every guard that needs it; if one fails, those already
// started are released.
func (a *App) startGuards(ctx context.Context) error {
	for i, g := range a.guards() {
		s, ok := g.(guard.Starter)
		if !ok {
			continue
		}
		if err := s.Start(ctx); err != nil {
			err = fmt.Errorf("leaderjob: starting guard %s: %w", guardName(g), err)
			return errors.Join(err, a.releaseGuards(a.guards()[:i]))
		}
	}
	return nil
}

// release hands back every guard's leadership; call it only after the jobs
// have drained.
func (a *App) release() error { return a.releaseGuards(a.guards()) }

func (a *App) releaseGuards(gs []guard.Guard) error {
	var errs []error
	for _, g := range gs {
		r, ok := g.(guard.Releaser)
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
		if err := r.Release(ctx); err != nil {
			errs = append(errs, fmt.Errorf("leaderjob: releasing guard %s: %w", guardName(g), err))
		}
		cancel()
	}
	return errors.Join(errs...)
}

// runningJobs names the jobs with a run in progress.
func (a *App) runningJobs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var names []string
	for _, j := range a.order {
		if j.running.held() {
			names = append(names, j.name)
		}
	}
	return names
}

// gocronLogger demotes gocron's informational chatter to debug; its warnings
// and errors keep their level.
type gocronLogger struct{ l *slog.Logger }

func (g gocronLogger) Debug(msg string, args ...any) { g.l.Debug(msg, args...) }
func (g gocronLogger) Info(msg string, args ...any)  { g.l.Debug(msg, args...) }
func (g gocronLogger) Warn(msg string, args ...any)  { g.l.Warn(msg, args...) }
func (g gocronLogger) Error(msg string, args ...any) { g.l.Error(msg, args...) }

// anyClaims reports whether a job claims its fires in the ledger: only then
// is the ledger's object watched (and needs its RBAC).
func (a *App) anyClaims() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.order {
		if j.claims() {
			return true
		}
	}
	return false
}
