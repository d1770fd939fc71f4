package lease

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/leaderjob/leaderjob/guard"
)

// Guard is a [guard.Guard] on a Kubernetes Lease. It also implements
// [guard.Starter], [guard.Releaser], [guard.HealthChecker],
// [guard.ReadinessChecker] and [guard.ChangeNotifier]. Create it with [New],
// call Start once, and Release on shutdown after the jobs have
// drained.
//
// Its state is split by concern: tenure (this replica's hold and its
// terms), observation (the Lease as last seen), the relay of changes to
// listeners, request failures, and the lifecycle of the elector and the
// watch. One lock guards all but the relay.
type Guard struct {
	cfg     config
	clock   clock.WithDelayedExecution
	self    string
	desc    string // namespace/name
	log     *slog.Logger
	klog    klog.Logger // client-go's messages, routed to log at debug level
	elector *leaderelection.LeaderElector
	watcher coordinationclient.LeaseInterface // nil without the watch
	relay   *relay
	handoff handoff

	mu     sync.Mutex
	life   lifecycle
	tenure tenure
	seen   observation
	errs   failures
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

	g := &Guard{cfg: c, clock: c.clock, self: self, desc: c.namespace + "/" + c.name, relay: newRelay()}
	g.log = c.logger.With(slog.String("component", "lease"))
	g.tenure = tenure{clock: c.clock, renewDeadline: c.renewDeadline, log: g.log, desc: g.desc, recheck: g.reconcile,
		opened: g.termOpened}
	g.seen = observation{clock: c.clock, self: self, expired: func() { g.kick("the holder's lease expired") }}
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
	g.handoff = handoff{g: g, release: c.release, client: election.Leases(c.namespace), name: c.name + CandidatesSuffix}
	g.handoff.members.h = &g.handoff
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
	t, o := &g.tenure, &g.seen
	t.reconcile(g.life.released)
	switch {
	case g.life.released:
		return d, fmt.Errorf("lease %s: %w", g.desc, guard.ErrReleased)
	case t.term != nil:
		d.Leader, d.Holder, d.Epoch, d.HasEpoch, d.EpochScope = true, g.self, t.term.epoch, true, t.term.scope
		d.Observed, d.Lost = t.lastRenew, t.term.lost
		return d, nil
	case !g.life.started:
		return d, fmt.Errorf("lease %s: %w: the guard has not been started", g.desc, guard.ErrLeaderUnknown)
	case t.leading != nil:
		err := fmt.Errorf("lease %s: %w: last renewed %v ago, over the renew deadline %v",
			g.desc, guard.ErrStale, g.clock.Since(t.lastRenew).Round(time.Millisecond), g.cfg.renewDeadline)
		if g.errs.last != nil {
			err = fmt.Errorf("%w: %w", err, g.errs.last)
		}
		return d, err
	case g.errs.last != nil:
		return d, g.errs.last
	case !o.seen:
		return d, fmt.Errorf("lease %s: %w: the Lease has not been read yet", g.desc, guard.ErrLeaderUnknown)
	}
	d.Holder, d.Epoch, d.HasEpoch, d.Observed = o.holder, o.epoch, true, o.at
	switch o.holder {
	case "":
		d.Detail = "the Lease is free"
	case g.self:
		d.Detail = "the Lease names this replica, which has not renewed it yet"
	default:
		d.Detail = fmt.Sprintf("leader is %q (epoch %d)", o.holder, o.epoch)
	}
	return d, nil
}

// Healthy reports an error when, by client-go's own record, this replica
// holds the Lease but has not renewed it for longer than the lease duration
// plus the health tolerance (see [WithHealthTolerance]): the elector is
// wedged and a restart is the cure. It is client-go's HealthzAdaptor check.
// A standby, a guard not started and a released guard are healthy.
func (g *Guard) Healthy() error {
	g.mu.Lock()
	running := g.life.started && !g.life.released
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
//
// The write that acquires the Lease is seen (and reported) a moment before
// client-go starts this replica's term, and a term can also end and open
// again while the Lease keeps naming this replica (a renewal that went
// stale, then succeeded). So whenever a term opens, that is, whenever Check
// starts answering "leader", fn is called once more with Previous, Holder
// and Self all this replica: a listener that asks Check on each change sees
// the term.
func (g *Guard) OnChange(fn func(guard.Change)) { g.relay.add(fn) }

// termOpened queues the notification of a term that opened (g.mu held).
func (g *Guard) termOpened(epoch int64) {
	g.relay.queue(guard.Change{Previous: g.self, Holder: g.self, Self: g.self, Epoch: epoch, HasEpoch: true, At: g.clock.Now()})
}

// reconcile opens or ends the term (see tenure).
func (g *Guard) reconcile() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tenure.reconcile(g.life.released)
}

// Reports from the lock.

func (g *Guard) writing(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tenure.inflight = on
}

// read records a Lease the elector read, with the record bytes it
// compares; fromServer is false when the watch served the read.
func (g *Guard) read(lease *coordinationv1.Lease, raw []byte, fromServer bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if fromServer {
		g.succeededLocked()
		g.seen.doubted = false
	}
	g.observeLocked(lease)
	g.seen.read(lease, raw)
}

// fromWatch returns the Lease as last seen, for a standby's elector to read
// instead of asking the apiserver, or nil when it must ask: when the watch
// is down, when nothing was seen yet or the Lease was deleted, when a write
// based on what was seen conflicted (until a read from the apiserver), while
// this replica holds the Lease or writes it, and while a refusal waits to be
// retried. A Lease seen on a working watch is as good as a read for the
// compare-and-swap that guards every write: a stale one only makes the
// write fail with a conflict.
func (g *Guard) fromWatch() *coordinationv1.Lease {
	g.mu.Lock()
	defer g.mu.Unlock()
	o := &g.seen
	if !g.life.watchUp || o.lease == nil || o.doubted || g.tenure.busy() || g.errs.refused != nil {
		return nil
	}
	return o.lease.DeepCopy()
}

// wrote records a Lease this replica wrote: an acquisition, a renewal, or a
// release (holder cleared). sent is when the request was sent.
func (g *Guard) wrote(lease *coordinationv1.Lease, sent time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.succeededLocked()
	if holderOf(lease) == g.self {
		g.tenure.renewed(sent, epochOf(lease), string(lease.UID))
	} else {
		g.tenure.dropped()
		if holderOf(lease) == "" {
			g.log.Info("released the Lease", slog.String("lease", g.desc), slog.Int64("epoch", epochOf(lease)))
		}
	}
	g.observeLocked(lease)
	g.tenure.reconcile(g.life.released)
}

// observeLocked records the Lease as seen by any means and queues a change
// notification when its holder or epoch changed.
func (g *Guard) observeLocked(lease *coordinationv1.Lease) {
	change, ok := g.seen.observe(lease)
	if g.seen.lease == lease && holderOf(lease) != g.self && g.tenure.holding {
		// The newest Lease seen names another holder, or none: this
		// replica does not hold it, whatever its last renewal says. Its
		// term ends now, not at the renew deadline.
		g.tenure.dropped()
		g.tenure.reconcile(g.life.released)
	}
	if !ok {
		return
	}
	if change.Holder != g.self {
		g.tenure.holding = false
	}
	g.log.Debug("leader changed", slog.String("lease", g.desc), slog.String("previous", change.Previous),
		slog.String("holder", change.Holder), slog.Int64("epoch", change.Epoch))
	g.relay.queue(change)
}
