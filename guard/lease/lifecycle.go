package lease

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/klog/v2"

	"github.com/leaderjob/leaderjob/guard"
)

// lifecycle is the state of the guard's background work: the elector,
// which runs again and again (after it loses the Lease, and at once when
// the guard kicks it to contend), and the watch. It is guarded by the
// guard's lock.

type lifecycle struct {
	started   bool
	released  bool
	stop      context.CancelFunc
	done      chan struct{}
	runCancel context.CancelFunc // cancels the elector's current Run
	kicked    bool               // runCancel was called to contend at once

	watchUp bool // a watch request is open
}

// Start begins contending for the Lease and returns at once. The election
// runs until Release is called or ctx ends; either way the Lease is released
// if held. Start fails on a guard that was started or released before.
func (g *Guard) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := &g.life
	switch {
	case l.released:
		return fmt.Errorf("lease %s: %w", g.desc, guard.ErrReleased)
	case l.started:
		return fmt.Errorf("lease %s: %w", g.desc, ErrStarted)
	}
	l.started = true
	g.handoff.begin()
	ctx, l.stop = context.WithCancel(ctx)
	l.done = make(chan struct{})
	g.log.Info("contending for leadership", slog.String("lease", g.desc), slog.String("identity", g.self))
	go g.supervise(ctx, l.done)
	return nil
}

// supervise runs the elector and the watch, delivers change notifications,
// and cleans up once both have returned.
func (g *Guard) supervise(ctx context.Context, done chan struct{}) {
	defer close(done)
	// Every request (the elector's and the watch's) carries the guard's
	// logger, so client-go logs nothing through klog's global logger.
	ctx = klog.NewContext(ctx, g.klog)
	var wg sync.WaitGroup
	wg.Go(func() { g.elect(ctx) })
	wg.Go(func() { g.handoff.keep(ctx) })
	if g.watcher != nil {
		wg.Go(func() { g.watch(ctx) })
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	for {
		select {
		case <-g.relay.notify:
			g.relay.deliver()
		case <-stopped:
			g.finish()
			g.relay.deliver()
			return
		}
	}
}

// elect runs the elector again and again: after it loses the Lease, and at
// once when the watch sees the Lease free or expired.
func (g *Guard) elect(ctx context.Context) {
	for ctx.Err() == nil {
		runCtx, cancel := context.WithCancel(ctx)
		g.mu.Lock()
		g.life.runCancel = cancel
		g.mu.Unlock()
		began := g.clock.Now()
		g.elector.Run(runCtx)
		cancel()
		g.mu.Lock()
		kicked := g.life.kicked
		g.life.runCancel, g.life.kicked = nil, false
		g.mu.Unlock()
		if !kicked && g.clock.Since(began) < g.cfg.retryPeriod {
			// Run returns this fast only when something is badly wrong;
			// do not spin.
			select {
			case <-ctx.Done():
			case <-g.clock.After(g.cfg.retryPeriod):
			}
		}
	}
}

// kick restarts a contending elector so that it tries at once.
func (g *Guard) kick(why string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.kickLocked(why)
}

// kickLocked restarts a contending elector so that it tries at once. It
// never interrupts an elector that leads or is writing.
func (g *Guard) kickLocked(why string) {
	l := &g.life
	if l.runCancel == nil || l.released || g.tenure.busy() {
		return
	}
	g.log.Debug("contending at once", slog.String("lease", g.desc), slog.String("why", why))
	l.kicked = true
	l.runCancel()
	l.runCancel = nil
}

// watchState records whether a watch request is open: only then may a
// standby's reads be served by the watch.
func (g *Guard) watchState(up bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.life.watchUp = up
}

// finish runs when the elector and the watch have returned.
func (g *Guard) finish() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.life.released = true
	g.tenure.leading = nil
	g.tenure.reconcile(true)
	g.tenure.stop()
	g.seen.stop()
	if g.tenure.holding {
		g.log.Warn("the Lease was not released; standbys take over when it expires",
			slog.String("lease", g.desc), slog.Duration("lease_duration", g.cfg.leaseDuration))
	}
}

// Release stops contending, waits for jobs' terms to end, and hands the
// Lease back (its holder is cleared, so a standby takes it at once). Call
// it only after every job has returned. It waits until the elector has
// stopped, or until ctx ends. After Release, Check returns an error
// wrapping guard.ErrReleased. Release is safe to call more than once and on
// a guard that was never started.
func (g *Guard) Release(ctx context.Context) error {
	g.mu.Lock()
	first := !g.life.released
	g.life.released = true
	g.tenure.reconcile(true)
	stop, done := g.life.stop, g.life.done
	g.mu.Unlock()
	if stop == nil {
		return nil
	}
	if first {
		g.log.Info("releasing the Lease", slog.String("lease", g.desc))
	}
	stop()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lease %s: release did not finish: %w", g.desc, context.Cause(ctx))
	}
}

// The elector's callbacks.

func (g *Guard) startedLeading(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ctx.Err() != nil { // Run already returned
		return
	}
	g.tenure.leading = ctx
	context.AfterFunc(ctx, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.tenure.leading == ctx {
			g.tenure.leading = nil
		}
		g.tenure.reconcile(g.life.released)
	})
	g.tenure.reconcile(g.life.released)
}

func (g *Guard) stoppedLeading() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tenure.leading = nil
	g.tenure.reconcile(g.life.released)
}
