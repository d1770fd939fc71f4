package lease

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"

	"github.com/leaderjob/leaderjob/guard"
)

// kickMargin is added to the moment a standby's elector will consider the
// holder's lease expired before the guard restarts the elector, so that the
// elector's own clock reading is past the expiry too.
const kickMargin = 50 * time.Millisecond

// Guard is a [guard.Guard] on a Kubernetes Lease. It also implements
// [guard.Starter], [guard.Releaser], [guard.HealthChecker],
// [guard.ReadinessChecker] and [guard.ChangeNotifier]. Create it with [New] or [FromEnv], call Start once,
// and Release on shutdown after the jobs have drained.
type Guard struct {
	cfg     config
	self    string
	desc    string // namespace/name
	log     *slog.Logger
	klog    klog.Logger // client-go's messages, routed to log at debug level
	elector *leaderelection.LeaderElector
	watcher coordinationclient.LeaseInterface // nil without the watch

	mu        sync.Mutex
	started   bool
	released  bool
	stop      context.CancelFunc
	done      chan struct{}
	runCancel context.CancelFunc // cancels the elector's current Run
	kicked    bool               // runCancel was called to contend at once

	// This replica's hold on the Lease.
	leading    context.Context // the elector's leading context, nil when not leading
	holding    bool            // our last successful write named us holder
	inflight   bool            // a write is in flight
	lastRenew  time.Time       // when our last successful write that named us holder was sent
	renewEpoch int64           // leaseTransitions of that write
	term       *term
	staleTimer *time.Timer

	// The Lease as last observed (reads, our writes, watch events).
	observed   bool
	holder     string
	epoch      int64
	observedAt time.Time
	seenRV     string
	rawRecord  []byte    // the record our elector last read
	rawSeenAt  time.Time // when it last changed: the elector's own observation time
	expiry     *time.Timer

	apiErr    error        // the last election request's error; nil after a success
	refused   *AccessError // a refusal no retry fixes by itself; nil after a success
	refusedAt time.Time    // when it was last refused
	probing   bool         // requests go out again to see whether it was fixed
	errLog    logLimit
	watchLog  logLimit

	listeners []func(guard.Change)
	pending   []delivery
	notify    chan struct{}
}

// term is one uninterrupted stretch of "leader" answers.
type term struct {
	lost  chan struct{}
	epoch int64
}

type delivery struct {
	change guard.Change
	to     []func(guard.Change)
}

var (
	_ guard.Guard            = (*Guard)(nil)
	_ guard.Starter          = (*Guard)(nil)
	_ guard.Releaser         = (*Guard)(nil)
	_ guard.HealthChecker    = (*Guard)(nil)
	_ guard.ReadinessChecker = (*Guard)(nil)
	_ guard.ChangeNotifier   = (*Guard)(nil)
)

// New returns a Guard that elects a leader among the replicas using the
// Lease named by [WithName], with self as this replica's identity. self must
// be unique among the replicas (the Pod name) and is compared exactly.
//
// cfg is copied; election requests go through a client of their own (see the
// package documentation). New validates the options — client-go's rules:
// LeaseDuration > RenewDeadline > 1.2 × RetryPeriod, all positive, and a
// lease of at least 1s; the name must be a valid object name (an RFC 1123
// subdomain) and the namespace a valid namespace (an RFC 1123 label) — and
// returns an error wrapping [ErrInvalidConfig] that says what is wrong and
// names the options to change. New sends no requests.
func New(cfg *rest.Config, self string, opts ...Option) (*Guard, error) {
	c := defaults()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	switch {
	case self == "":
		return nil, fmt.Errorf("lease: %w: this replica's identity is empty (set POD_NAME)", ErrInvalidConfig)
	case cfg == nil:
		return nil, fmt.Errorf("lease: %w: no rest.Config", ErrInvalidConfig)
	}
	if c.userAgent == "" {
		c.userAgent = "leaderjob/" + c.name
	}

	g := &Guard{cfg: c, self: self, desc: c.namespace + "/" + c.name, notify: make(chan struct{}, 1)}
	g.log = c.logger.With(slog.String("component", "lease"))
	g.klog = logr.FromSlogHandler(electorHandler{c.logger.Handler().WithAttrs([]slog.Attr{slog.String("component", "client-go")})})

	election, err := coordinationclient.NewForConfig(electionConfig(cfg, c, c.renewDeadline/2))
	if err != nil {
		return nil, fmt.Errorf("lease: election client: %w", err)
	}
	if c.watch {
		w, err := coordinationclient.NewForConfig(electionConfig(cfg, c, 0))
		if err != nil {
			return nil, fmt.Errorf("lease: watch client: %w", err)
		}
		g.watcher = w.Leases(c.namespace)
	}
	g.elector, err = leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            &leaseLock{g: g, client: election.Leases(c.namespace)},
		LeaseDuration:   c.leaseDuration,
		RenewDeadline:   c.renewDeadline,
		RetryPeriod:     c.retryPeriod,
		ReleaseOnCancel: true,
		Name:            g.desc,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: g.startedLeading,
			OnStoppedLeading: g.stoppedLeading,
		},
	})
	if err != nil { // validate mirrors client-go's rules, so this is unexpected
		return nil, fmt.Errorf("lease: %w: %w", ErrInvalidConfig, err)
	}
	return g, nil
}

// electionConfig derives the election traffic's client configuration.
// A zero timeout is for the watch, which must outlive any request timeout.
func electionConfig(base *rest.Config, c config, timeout time.Duration) *rest.Config {
	cfg := rest.CopyConfig(base)
	cfg.Timeout = timeout
	cfg.QPS, cfg.Burst, cfg.RateLimiter = 5, 10, nil
	cfg.UserAgent = c.userAgent
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg
}

// Identity returns this replica's identity.
func (g *Guard) Identity() string { return g.self }

// LogValue describes the guard's configuration for a start-up summary.
func (g *Guard) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("lease_namespace", g.cfg.namespace),
		slog.String("lease_name", g.cfg.name),
		slog.String("identity", g.self),
		slog.Duration("lease_duration", g.cfg.leaseDuration),
		slog.Duration("renew_deadline", g.cfg.renewDeadline),
		slog.Duration("retry_period", g.cfg.retryPeriod),
		slog.Bool("watch", g.cfg.watch),
	)
}

// Check reports whether this replica leads now; see the package
// documentation for the exact rule. A standby gets Leader false with the
// holder and epoch last observed; errors wrap guard.ErrReleased after
// Release, an *AccessError (guard.ErrForbidden) or guard.ErrUnavailable when
// the last election request failed or timed out, guard.ErrStale when the elector still
// leads but its last renewal is older than the renew deadline, and
// guard.ErrLeaderUnknown before the Lease was read. Check never blocks on
// the network.
func (g *Guard) Check(ctx context.Context) (guard.Decision, error) {
	d := guard.Decision{Self: g.self}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("lease %s: check: %w", g.desc, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.reconcileLocked(now)
	switch {
	case g.released:
		return d, fmt.Errorf("lease %s: %w", g.desc, guard.ErrReleased)
	case g.term != nil:
		d.Leader, d.Holder, d.Epoch, d.HasEpoch = true, g.self, g.term.epoch, true
		d.Observed, d.Lost = g.lastRenew, g.term.lost
		return d, nil
	case !g.started:
		return d, fmt.Errorf("lease %s: %w: the guard has not been started", g.desc, guard.ErrLeaderUnknown)
	case g.leading != nil:
		err := fmt.Errorf("lease %s: %w: last renewed %v ago, over the renew deadline %v",
			g.desc, guard.ErrStale, now.Sub(g.lastRenew).Round(time.Millisecond), g.cfg.renewDeadline)
		if g.apiErr != nil {
			err = fmt.Errorf("%w: %w", err, g.apiErr)
		}
		return d, err
	case g.apiErr != nil:
		return d, g.apiErr
	case !g.observed:
		return d, fmt.Errorf("lease %s: %w: the Lease has not been read yet", g.desc, guard.ErrLeaderUnknown)
	}
	d.Holder, d.Epoch, d.HasEpoch, d.Observed = g.holder, g.epoch, true, g.observedAt
	switch g.holder {
	case "":
		d.Detail = "the Lease is free"
	case g.self:
		d.Detail = "the Lease names this replica, which has not renewed it yet"
	default:
		d.Detail = fmt.Sprintf("leader is %q (epoch %d)", g.holder, g.epoch)
	}
	return d, nil
}

// Start begins contending for the Lease and returns at once. The election
// runs until Release is called or ctx ends; either way the Lease is released
// if held. Start fails on a guard that was started or released before.
func (g *Guard) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.released:
		return fmt.Errorf("lease %s: %w", g.desc, guard.ErrReleased)
	case g.started:
		return fmt.Errorf("lease %s: %w", g.desc, ErrStarted)
	}
	g.started = true
	ctx, g.stop = context.WithCancel(ctx)
	g.done = make(chan struct{})
	g.log.Info("contending for leadership", slog.String("lease", g.desc), slog.String("identity", g.self))
	go g.supervise(ctx)
	return nil
}

// supervise runs the elector and the watch, delivers change notifications,
// and cleans up once both have returned.
func (g *Guard) supervise(ctx context.Context) {
	defer close(g.done)
	// Every request (the elector's and the watch's) carries the guard's
	// logger, so client-go logs nothing through klog's global logger.
	ctx = klog.NewContext(ctx, g.klog)
	var wg sync.WaitGroup
	wg.Go(func() { g.elect(ctx) })
	if g.watcher != nil {
		wg.Go(func() { g.watch(ctx) })
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	for {
		select {
		case <-g.notify:
			g.deliver()
		case <-stopped:
			g.finish()
			g.deliver()
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
		g.runCancel = cancel
		g.mu.Unlock()
		began := time.Now()
		g.elector.Run(runCtx)
		cancel()
		g.mu.Lock()
		kicked := g.kicked
		g.runCancel, g.kicked = nil, false
		g.mu.Unlock()
		if !kicked && time.Since(began) < g.cfg.retryPeriod {
			// Run returns this fast only when something is badly wrong;
			// do not spin.
			select {
			case <-ctx.Done():
			case <-time.After(g.cfg.retryPeriod):
			}
		}
	}
}

// kickLocked restarts a contending elector so that it tries at once. It
// never interrupts an elector that leads or is writing.
func (g *Guard) kickLocked(why string) {
	if g.runCancel == nil || g.released || g.leading != nil || g.holding || g.inflight {
		return
	}
	g.log.Debug("contending at once", slog.String("lease", g.desc), slog.String("why", why))
	g.kicked = true
	g.runCancel()
	g.runCancel = nil
}

// finish runs when the elector and the watch have returned.
func (g *Guard) finish() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.released = true
	g.leading = nil
	g.reconcileLocked(time.Now())
	for _, t := range []*time.Timer{g.staleTimer, g.expiry} {
		if t != nil {
			t.Stop()
		}
	}
	if g.holding {
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
	first := !g.released
	g.released = true
	g.reconcileLocked(time.Now())
	stop, done := g.stop, g.done
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

// Healthy reports an error when, by client-go's own record, this replica
// holds the Lease but has not renewed it for longer than the lease duration
// plus the health tolerance (see [WithHealthTolerance]): the elector is
// wedged and a restart is the cure. It is client-go's HealthzAdaptor check.
// A standby, a guard not started and a released guard are healthy.
func (g *Guard) Healthy() error {
	g.mu.Lock()
	running := g.started && !g.released
	g.mu.Unlock()
	if !running {
		return nil
	}
	if err := g.elector.Check(g.cfg.healthTolerance); err != nil {
		return fmt.Errorf("lease %s: %w", g.desc, err)
	}
	return nil
}

// OnChange registers fn to be called for every change of holder (or epoch)
// the guard observes from now on, including this replica's own acquisitions
// and releases. Calls are sequential, from one goroutine; fn must not block.
func (g *Guard) OnChange(fn func(guard.Change)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.listeners = append(g.listeners, fn)
}

func (g *Guard) deliver() {
	g.mu.Lock()
	batch := g.pending
	g.pending = nil
	g.mu.Unlock()
	for _, d := range batch {
		for _, fn := range d.to {
			fn(d.change)
		}
	}
}

// The elector's callbacks.

func (g *Guard) startedLeading(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ctx.Err() != nil { // Run already returned
		return
	}
	g.leading = ctx
	context.AfterFunc(ctx, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.leading == ctx {
			g.leading = nil
		}
		g.reconcileLocked(time.Now())
	})
	g.reconcileLocked(time.Now())
}

func (g *Guard) stoppedLeading() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leading = nil
	g.reconcileLocked(time.Now())
}

// reconcileLocked opens or ends the term from the current state.
func (g *Guard) reconcileLocked(now time.Time) {
	age := now.Sub(g.lastRenew)
	fresh := !g.released && g.leading != nil && g.leading.Err() == nil &&
		!g.lastRenew.IsZero() && age < g.cfg.renewDeadline
	switch {
	case fresh && g.term == nil:
		g.term = &term{lost: make(chan struct{}), epoch: g.renewEpoch}
		g.log.Info("leading", slog.String("lease", g.desc), slog.Int64("epoch", g.renewEpoch))
	case !fresh && g.term != nil:
		close(g.term.lost)
		attrs := []slog.Attr{slog.String("lease", g.desc), slog.Int64("epoch", g.term.epoch)}
		level := slog.LevelWarn
		switch {
		case g.released:
			level = slog.LevelInfo
			attrs = append(attrs, slog.String("why", "released"))
		case g.leading == nil || g.leading.Err() != nil:
			attrs = append(attrs, slog.String("why", "the elector stopped leading"))
		default:
			attrs = append(attrs, slog.String("why", fmt.Sprintf("not renewed for %v (renew deadline %v)",
				age.Round(time.Millisecond), g.cfg.renewDeadline)))
		}
		g.log.LogAttrs(context.Background(), level, "leadership ended", attrs...)
		g.term = nil
	}
	if fresh {
		wait := g.cfg.renewDeadline - age
		if g.staleTimer == nil {
			g.staleTimer = time.AfterFunc(wait, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				g.reconcileLocked(time.Now())
			})
		} else {
			g.staleTimer.Reset(wait)
		}
	}
}

// Reports from the lock.

func (g *Guard) writing(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight = on
}

// read records a Lease the elector read, with the record bytes it compares.
func (g *Guard) read(lease *coordinationv1.Lease, raw []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.succeededLocked()
	if !bytes.Equal(raw, g.rawRecord) {
		g.rawRecord, g.rawSeenAt = raw, now
	}
	g.observeLocked(lease, now)
	g.armExpiryLocked(lease, now)
}

// wrote records a Lease this replica wrote: an acquisition, a renewal, or a
// release (holder cleared). sent is when the request was sent.
func (g *Guard) wrote(lease *coordinationv1.Lease, sent time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	g.succeededLocked()
	if holderOf(lease) == g.self {
		g.holding, g.lastRenew, g.renewEpoch = true, sent, epochOf(lease)
	} else {
		g.holding, g.lastRenew = false, time.Time{}
		if holderOf(lease) == "" {
			g.log.Info("released the Lease", slog.String("lease", g.desc), slog.Int64("epoch", epochOf(lease)))
		}
	}
	g.observeLocked(lease, now)
	g.reconcileLocked(now)
}

// armExpiryLocked schedules a restart of the elector for the moment it will
// consider another holder's lease expired: LeaseDuration (as the holder
// wrote it) after the elector last saw the record change. client-go would
// otherwise notice only on its next retry tick.
func (g *Guard) armExpiryLocked(lease *coordinationv1.Lease, now time.Time) {
	holder := holderOf(lease)
	var seconds int32
	if lease.Spec.LeaseDurationSeconds != nil {
		seconds = *lease.Spec.LeaseDurationSeconds
	}
	wait := g.rawSeenAt.Add(time.Duration(seconds)*time.Second + kickMargin).Sub(now)
	if holder == "" || holder == g.self || wait <= 0 {
		if g.expiry != nil {
			g.expiry.Stop()
		}
		return
	}
	if g.expiry == nil {
		g.expiry = time.AfterFunc(wait, func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.kickLocked("the holder's lease expired")
		})
		return
	}
	g.expiry.Reset(wait)
}

// observeLocked records the Lease as seen by any means and queues a change
// notification when its holder or epoch changed. Reports older than what
// was already seen (by resourceVersion) are ignored.
func (g *Guard) observeLocked(lease *coordinationv1.Lease, now time.Time) {
	if g.seenRV != "" {
		if c, err := resourceversion.CompareResourceVersion(lease.ResourceVersion, g.seenRV); err == nil && c < 0 {
			return
		}
	}
	g.seenRV = lease.ResourceVersion
	holder, epoch := holderOf(lease), epochOf(lease)
	g.observedAt = now
	if g.observed && holder == g.holder && epoch == g.epoch {
		return
	}
	change := guard.Change{Previous: g.holder, Holder: holder, Self: g.self, Epoch: epoch, HasEpoch: true, At: now}
	g.observed, g.holder, g.epoch = true, holder, epoch
	if holder != g.self {
		g.holding = false
	}
	g.log.Debug("leader changed", slog.String("lease", g.desc), slog.String("previous", change.Previous),
		slog.String("holder", holder), slog.Int64("epoch", epoch))
	if len(g.listeners) > 0 {
		g.pending = append(g.pending, delivery{change: change, to: slices.Clone(g.listeners)})
		select {
		case g.notify <- struct{}{}:
		default:
		}
	}
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func epochOf(l *coordinationv1.Lease) int64 {
	if l.Spec.LeaseTransitions == nil {
		return 0
	}
	return int64(*l.Spec.LeaseTransitions)
}
