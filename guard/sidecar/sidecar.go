// Package sidecar provides a [guard.Guard] that asks a leader-elector
// sidecar (see package sidecarclient) who the leader is, and says "leader"
// only when the sidecar names this pod exactly.
//
// Everything but that answer is "not leader": another pod's name is a
// Decision with Leader false and a nil error; a sidecar that cannot be
// asked, that names no leader, or whose answer is stale is an error wrapping
// guard.ErrUnavailable, guard.ErrLeaderUnknown or guard.ErrStale, so that
// [guard.Run] skips the run with reason unavailable, leader_unknown or
// stale. The guard never fails open.
//
// The work is split so that imports run one way. Package sidecarclient
// speaks the protocol and knows nothing of package guard: its errors wrap
// its own sentinels. This package holds the policy: the exact name
// comparison, the max age of last_update ([WithMaxAge]), and the one
// mapping from the client's sentinels onto guard's — ErrUnreachable,
// ErrTimeout, ErrBadStatus and ErrMalformed to guard.ErrUnavailable,
// ErrLeaderUnknown to guard.ErrLeaderUnknown, ErrStale to guard.ErrStale.
// The errors Check returns keep the client's message and sentinel, so
// errors.Is, errors.As (for a [*sidecarclient.StatusError]) and
// [sidecarclient.ErrorClass] work on them as on the client's own. A caller's
// context ending is passed on as it is.
//
// Checks are coalesced: concurrent Checks share one request, and an answer
// (an error included) is reused for at most the cache window after its
// request was sent (DefaultCacheWindow). With the default window, 1,000
// concurrent Checks make one request.
//
// With a sidecar that only answers requests, Decision.Lost is nil: a job
// that is running when the sidecar's leader changes is not cancelled and
// runs to its end, possibly alongside the new leader's next run. Every run
// asks again before it starts. Keep jobs short and idempotent, use a
// sidecar with a change stream (below), or use the Lease guard, which
// cancels a running job when its term ends.
//
// Sidecars that send more than the original answer are understood too
// (leaderjob-elector, cmd/leaderjob-elector, sends all of these): an
// "epoch" becomes Decision.Epoch (HasEpoch true), a fencing token; an
// "is_leader" that contradicts the name comparison (the sidecar elects
// under another identity than this pod's name) is an error wrapping
// ErrIdentityMismatch and guard.ErrUnavailable. When the guard is started
// ([Guard.Start], which leaderjob.App does) and the sidecar offers a change
// stream (GET /sse answering text/event-stream), every event drops the
// cached answer, so a hand-off is seen on the next Check rather than after
// the cache window; sidecars without one are asked as before. While the
// stream is open, a "leader" Decision also carries a Lost channel, closed
// when an event no longer names this pod at the same epoch, or when the
// stream breaks (the guard can then no longer tell, so it fails closed):
// guard.Run cancels the running job's context with guard.ErrLeadershipLost.
//
// docs/measured.md gives the cost of a check, cached and not,
// and how many requests concurrent checks make (BenchmarkCheck,
// BenchmarkConcurrentChecks).
//
// With a window of 0, Checks that start after the shared request has
// returned make a new one, hence the second or third request.
package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/wire"
)

// Defaults.
const (
	DefaultURL         = "http://localhost:4040/"
	DefaultCacheWindow = 500 * time.Millisecond
)

// Option configures a [Guard].
type Option func(*config)

type config struct {
	url    string
	client *sidecarclient.Client
	window time.Duration
	maxAge time.Duration
	logger *slog.Logger
}

// WithURL sets the sidecar's URL; the default is DefaultURL. It cannot be
// combined with WithClient.
func WithURL(url string) Option { return func(c *config) { c.url = url } }

// WithClient makes the guard ask the sidecar through c, for its timeouts,
// retries or observer. It cannot be combined with WithURL.
func WithClient(c *sidecarclient.Client) Option { return func(cfg *config) { cfg.client = c } }

// WithCacheWindow sets how long after its request was sent an answer is
// reused; the default is DefaultCacheWindow. 0 turns reuse off, but
// concurrent Checks still share one request. A longer window means fewer
// requests and a later view of a leader change.
func WithCacheWindow(d time.Duration) Option { return func(c *config) { c.window = d } }

// WithMaxAge makes answers whose last_update is older than d, or which have
// none, "not leader" with an error wrapping guard.ErrStale and
// sidecarclient.ErrStale. 0, the default,
// turns the check off. Only set it for sidecars that refresh last_update
// while the leader stays the same; some set it only when the leader changes.
func WithMaxAge(d time.Duration) Option { return func(c *config) { c.maxAge = d } }

// WithLogger logs leader changes at info level and, when the guard makes
// its own client, failed attempts at debug level. By default nothing is
// logged.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Guard is a [guard.Guard] and [guard.ChangeNotifier] backed by a
// leader-elector sidecar. It is safe for concurrent use.
type Guard struct {
	self   string
	client *sidecarclient.Client
	maxAge time.Duration
	logger *slog.Logger
	now    func() time.Time // the wall clock, for the age check
	shared shared

	streamMu  sync.Mutex
	started   bool
	streaming bool  // the change stream is open
	term      *term // while streaming: the term the last answers belong to

	notifyMu sync.Mutex
	holder   string // the last holder an answer named
	watchers []func(guard.Change)
}

var (
	_ guard.Guard          = (*Guard)(nil)
	_ guard.ChangeNotifier = (*Guard)(nil)
	_ guard.Starter        = (*Guard)(nil)
)

// New returns a Guard for the pod named self, which must be the name the
// sidecar reports when this pod leads (normally metadata.name, which the
// leader-elector uses as its --id or hostname).
func New(self string, opts ...Option) (*Guard, error) {
	if self == "" {
		return nil, errors.New("sidecar guard: empty pod name: set it from the downward API (metadata.name)")
	}
	cfg := config{window: DefaultCacheWindow}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.window < 0:
		return nil, fmt.Errorf("sidecar guard: cache window %v: want 0 or more", cfg.window)
	case cfg.maxAge < 0:
		return nil, fmt.Errorf("sidecar guard: max age %v: want 0 (off) or more", cfg.maxAge)
	case cfg.client != nil && cfg.url != "":
		return nil, errors.New("sidecar guard: WithURL and WithClient both given: pass the URL to the client")
	}
	client := cfg.client
	if client == nil {
		if cfg.url == "" {
			cfg.url = DefaultURL
		}
		var copts []sidecarclient.Option
		if cfg.logger != nil {
			copts = append(copts, sidecarclient.WithLogger(cfg.logger))
		}
		var err error
		if client, err = sidecarclient.New(cfg.url, copts...); err != nil {
			return nil, fmt.Errorf("sidecar guard: %w", err)
		}
	}
	g := &Guard{self: self, client: client, maxAge: cfg.maxAge, logger: cfg.logger, now: time.Now}
	fetch := func(ctx context.Context) (wire.Leader, error) {
		l, err := client.Leader(ctx)
		return l, guardError(err)
	}
	g.shared = shared{window: cfg.window, fetch: fetch, after: g.observe}
	return g, nil
}

// Check asks the sidecar, or reuses an answer within the cache window, and
// compares the leader's name with this pod's name exactly.
func (g *Guard) Check(ctx context.Context) (guard.Decision, error) {
	d := guard.Decision{Self: g.self}
	if err := ctx.Err(); err != nil {
		return d, fmt.Errorf("sidecar guard: %w", err)
	}
	a, err := g.shared.get(ctx)
	if err != nil {
		return d, fmt.Errorf("sidecar guard: waiting for the sidecar at %s: %w", g.client.URL(), err)
	}
	if a.err != nil {
		return d, a.err
	}
	if err := checkAge(g.client.URL(), a.leader, g.now(), g.maxAge); err != nil {
		return d, guardError(err)
	}
	if err := g.crossCheck(a.leader); err != nil {
		return d, err
	}
	d.Holder, d.Observed = a.leader.Name, a.leader.LastUpdate
	d.Epoch, d.HasEpoch, d.EpochScope = a.leader.Epoch, a.leader.HasEpoch, a.leader.EpochScope
	if a.leader.Name != g.self {
		d.Detail = fmt.Sprintf("leader is %q", a.leader.Name)
		return d, nil
	}
	d.Leader = true
	d.Lost = g.lostFor(a)
	return d, nil
}

// OnChange registers fn to be called for each change of the leader named by
// the sidecar's answers, as Checks fetch them. The first answer that names a
// leader counts as a change from "". Failed requests change nothing; an
// answer naming no leader is a change to "". Changes are seen only when
// Checks ask: between runs nobody polls. fn runs on the goroutine that
// fetched the answer, before the Checks waiting for it return; it must not
// block, and must not call Check.
func (g *Guard) OnChange(fn func(guard.Change)) {
	g.notifyMu.Lock()
	defer g.notifyMu.Unlock()
	g.watchers = append(g.watchers, fn)
}

// String describes the guard for logs.
func (g *Guard) String() string { return "sidecar(" + g.client.URL() + ")" }

// observe notes the holder named by a fresh answer and reports a change.
func (g *Guard) observe(a *answer) {
	if a.err != nil && !errors.Is(a.err, sidecarclient.ErrLeaderUnknown) {
		return
	}
	g.notifyMu.Lock()
	defer g.notifyMu.Unlock()
	if a.leader.Name == g.holder {
		return
	}
	c := guard.Change{Previous: g.holder, Holder: a.leader.Name, Self: g.self, At: time.Now()}
	g.holder = c.Holder
	if g.logger != nil {
		g.logger.Debug("sidecar leader changed", // the App logs each change at info level
			slog.String("previous", c.Previous), slog.String("holder", c.Holder),
			slog.String("self", c.Self), slog.Bool("leader", c.Holder == c.Self))
	}
	for _, fn := range g.watchers {
		fn(c)
	}
}
