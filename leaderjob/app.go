package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leaderjob/leaderjob/guard"
	"go.opentelemetry.io/otel/trace"

	"github.com/leaderjob/leaderjob/leaderjob/internal/ops"
	"github.com/leaderjob/leaderjob/leaderjob/internal/tracing"
	"github.com/leaderjob/leaderjob/ledger"
)

// releaseTimeout bounds how long shutdown waits for each guard to hand
// leadership over.
const releaseTimeout = 5 * time.Second

// Defaults.
const (
	// DefaultStartupGrace bounds how long Run waits, before it starts the
	// scheduler, for the guard to know the leader.
	DefaultStartupGrace = 5 * time.Second
	// DefaultDrainTimeout bounds how long shutdown waits for running jobs.
	// Keep terminationGracePeriodSeconds above it plus a few seconds for
	// releasing the guard.
	DefaultDrainTimeout = 20 * time.Second
)

// Errors returned by App methods. Registration errors wrap
// ErrInvalidSchedule, ErrDuplicateJob, ErrNilFunc or ErrConfig and name the
// job. ErrConfig is wrapped by every error about a bad option or
// environment variable.
var (
	ErrDuplicateJob = errors.New("duplicate job name")
	ErrNilFunc      = errors.New("nil job function")
	ErrUnknownJob   = errors.New("unknown job")
	ErrAlreadyRun   = errors.New("app already running or stopped")
	ErrConfig       = errors.New("invalid configuration")
	ErrDrainTimeout = errors.New("jobs still running after the drain timeout")
)

// App schedules named jobs and runs each fire through a guard. Create it with
// New, add jobs with Schedule, then call Run. Its methods are safe for
// concurrent use.
type App struct {
	name    string
	self    string
	logger  *slog.Logger
	clock   clockwork.Clock
	opts    options
	source  guardSource // where leadership comes from
	leader  *leadership // what this replica knows of the leader
	life    lifecycle
	runSeq  runIDs
	path    []stage // the path of every run attempt (path.go)
	signals signals // for leaderjobtest

	mu      sync.Mutex
	jobs    map[string]*job
	order   []*job
	started bool
	sched   gocron.Scheduler

	fires    fireLedger   // the fleet's record of claimed fires
	catchUps catchUpRuns  // missed fires being run, and re-phases
	ctl      controlState // operators' requests
	skipWarn skipWarnings // warnings about guard sources that keep failing
	notices  ops.Notices  // what operators should notice without logs
	metrics  *ops.Metrics // the App's Prometheus collectors
	gatherer prometheus.Gatherer
	listener ops.Listener // the operations endpoints' listener
	tracer   *tracing.Tracer
	spread   *shares // spread mode's owners; nil when off
}

// guardSource is the App's guard and what its source brought with it.
type guardSource struct {
	guard    guard.Guard
	recorded guard.Guard // guard wrapped to record every answer (leadership)
	name     string      // for the start-up summary
	attrs    []slog.Attr // the source's own start-up attributes
	ledger   ledger.Ledger
}

// lifecycle is where Run is, and what every run attempt hangs from.
type lifecycle struct {
	state   atomic.Int32
	running chan struct{} // closed once Run has started the scheduler
	// base is the parent of every run context; shutdown cancels it with
	// guard.ErrShuttingDown.
	base       context.Context
	cancelBase context.CancelCauseFunc
	inflight   inflight
}

// fireLedger is what claims are made with: the fleet's ledger, the default
// catch-up policy (LEADERJOB_CATCH_UP), this release (for one-shot jobs)
// the names of this process's terms, and the fires whose claim may have
// been written though this process could not tell.
type fireLedger struct {
	ledger  ledger.Ledger
	catchUp CatchUp
	version string
	terms   terms
	unsure  unsureClaims
}

// catchUpRuns serialises catch-ups and re-phases.
type catchUpRuns struct {
	running   sync.Mutex  // one catch-up at a time
	rephasing sync.Mutex  // one re-phase at a time
	again     atomic.Bool // a term began while a catch-up ran
	outage    atomic.Bool // a claim failed: the ledger could not be written
}

// controlState is what the control loop keeps.
type controlState struct {
	controls   Controls // operators' requests; nil: none
	kick       chan struct{}
	manualRuns inFlight
	warned     atomic.Int64 // when the controls last could not be read (unix ns)
}

type job struct {
	name     string
	schedule Schedule
	fn       Func
	cfg      jobConfig
	guard    guard.Guard
	running  runLock     // held while a run of this job is in progress
	cron     *springCron // set at start for cron schedules
	calling  atomic.Bool // the job's function is executing
	catchUp  CatchUp     // the job's policy, or the App's default
	fired    atomic.Bool // the scheduler has fired the job at least once
	gocronID uuid.UUID   // the job in the scheduler, for rephase
	runMu    sync.Mutex
	runStop  context.CancelCauseFunc // cancels the run in flight, nil when none
	cutShort atomic.Bool             // cancelRun ended the run in flight
	turns    turns                   // scheduled fires and catch-up runs, in order
	adoptMu  sync.Mutex              // one adoption at a time (spread mode)
	adopted  adoption                // the job's token for this ownership (spread mode)
	gained   atomic.Bool             // spread mode: gained since its last scheduled fire (notDue)
	series   *ops.JobSeries          // the series every run updates
	spans    *tracing.Job            // what the job's run spans share
}

// Option configures New.
type Option func(*options)

type options struct {
	guard          guard.Guard
	logger         *slog.Logger
	logOut         io.Writer
	clock          clockwork.Clock
	lookup         func(string) (string, bool)
	identity       string
	drainTimeout   time.Duration
	checkTimeout   time.Duration
	startupGrace   *time.Duration
	noSignals      bool
	hooks          []func(Result)
	notifier       Notifier
	httpAddr       *string
	registry       prometheus.Registerer
	ledger         ledger.Ledger
	catchUp        *CatchUp
	version        string
	sources        map[string]GuardSource
	controls       Controls
	tracerProvider trace.TracerProvider
	spread         *bool
	membership     guard.Membership
}

// App states, for the probes.
const (
	stateNew int32 = iota
	stateRunning
	stateDraining
	stateStopped
)

// WithHTTPAddr sets the operations listener address instead of
// LEADERJOB_HTTP_ADDR; "" disables it, ":0" picks a free port.
func WithHTTPAddr(addr string) Option { return func(o *options) { o.httpAddr = &addr } }

// WithRegistry registers the App's metrics on reg instead of a registry of
// its own, so they join an existing /metrics. If reg is also a
// prometheus.Gatherer the App's /metrics serves it; otherwise it serves
// prometheus.DefaultGatherer.
func WithRegistry(reg prometheus.Registerer) Option { return func(o *options) { o.registry = reg } }

// WithGuard sets the guard of every job, instead of the one LEADERJOB_GUARD
// selects.
func WithGuard(g guard.Guard) Option { return func(o *options) { o.guard = g } }

// WithLogger sets the logger, instead of the one LEADERJOB_LOG_FORMAT and
// LEADERJOB_LOG_LEVEL describe.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLogOutput sets where the environment-configured logger writes
// (default os.Stdout). It has no effect together with WithLogger.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOut = w } }

// WithClock sets the clock the scheduler runs on; tests pass a
// clockwork.FakeClock to drive schedules without sleeping.
func WithClock(c clockwork.Clock) Option { return func(o *options) { o.clock = c } }

// WithEnv sets how the App reads its environment (default os.LookupEnv).
func WithEnv(lookup func(string) (string, bool)) Option {
	return func(o *options) { o.lookup = lookup }
}

// WithIdentity sets this replica's identity instead of POD_NAME / HOSTNAME.
func WithIdentity(id string) Option { return func(o *options) { o.identity = id } }

// WithDrainTimeout bounds how long shutdown waits for running jobs to return
// after their contexts are cancelled (default DefaultDrainTimeout, or
// LEADERJOB_DRAIN_TIMEOUT).
func WithDrainTimeout(d time.Duration) Option { return func(o *options) { o.drainTimeout = d } }

// WithCheckTimeout bounds each guard check (default guard.DefaultCheckTimeout).
func WithCheckTimeout(d time.Duration) Option { return func(o *options) { o.checkTimeout = d } }

// WithStartupGrace bounds how long Run waits for the guard to know the
// leader (an answer other than guard.ErrLeaderUnknown: the Lease read or
// won) before it starts the scheduler, so that the fires due at start
// (fixed-rate, fixed-delay and one-shot jobs) are not skipped because the
// election had not begun (default DefaultStartupGrace; 0 does not wait).
// A replica that starts alone then runs them as the leader.
func WithStartupGrace(d time.Duration) Option { return func(o *options) { o.startupGrace = &d } }

// WithLedger sets where claimed fires are recorded (default: the ledger
// the guard source brings, such as kube.Guards' ConfigMap in lease mode, else
// one in memory, which only this process sees).
func WithLedger(l ledger.Ledger) Option { return func(o *options) { o.ledger = l } }

// WithDefaultCatchUp sets the catch-up policy of every job that sets none,
// instead of LEADERJOB_CATCH_UP (default CatchUpOff).
func WithDefaultCatchUp(c CatchUp) Option { return func(o *options) { o.catchUp = &c } }

// WithVersion names this release, instead of LEADERJOB_VERSION (default:
// the binary's VCS revision, else a hash of the executable). A one-shot job
// runs once per app and version.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithoutSignals stops Run from handling SIGINT and SIGTERM; it then ends
// only when its context does.
func WithoutSignals() Option { return func(o *options) { o.noSignals = true } }

// WithResultHook calls fn with the Result of every run attempt, after it is
// logged. fn runs on the job's goroutine and must not block.
func WithResultHook(fn func(Result)) Option {
	return func(o *options) { o.hooks = append(o.hooks, fn) }
}

// New returns an App named name. The name identifies it in logs and is the
// default Lease name, so it must be a valid Kubernetes object name when the
// Lease guard is used.
//
// Unless options say otherwise, New reads its guard, identity and logging
// from the environment (see the package documentation); an invalid value is
// an error wrapping ErrConfig that names the variable and the accepted
// values.
func New(name string, opts ...Option) (*App, error) {
	o := options{lookup: os.LookupEnv, logOut: os.Stdout, clock: clockwork.NewRealClock()}
	for _, opt := range opts {
		opt(&o)
	}
	if name == "" {
		return nil, fmt.Errorf("leaderjob: %w: the app name must not be empty", ErrConfig)
	}
	env := environment{lookup: o.lookup}
	a := &App{name: name, opts: o, clock: o.clock, jobs: map[string]*job{}}
	a.life.running = make(chan struct{})
	a.life.base, a.life.cancelBase = context.WithCancelCause(context.Background())

	var err error
	if a.logger = o.logger; a.logger == nil {
		if a.logger, err = env.logger(o.logOut); err != nil {
			return nil, err
		}
	}
	if a.self = o.identity; a.self == "" {
		a.self = env.identity()
	}
	if o.drainTimeout == 0 {
		if o.drainTimeout, err = env.duration(EnvDrainTimeout, DefaultDrainTimeout); err != nil {
			return nil, err
		}
	}
	if o.drainTimeout < 0 {
		return nil, fmt.Errorf("leaderjob: %w: drain timeout %v must not be negative", ErrConfig, o.drainTimeout)
	}
	a.listener = ops.Listener{Var: EnvHTTPAddr, Logger: a.logger}
	if o.httpAddr != nil {
		a.listener.Addr = *o.httpAddr
	} else if v, set := o.lookup(EnvHTTPAddr); set {
		a.listener.Addr = v
	} else {
		a.listener.Addr, a.listener.Defaulted = DefaultHTTPAddr, true
	}
	if addr := a.listener.Addr; addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("leaderjob: %w: %s=%q: want host:port such as :8080 or 127.0.0.1:8080, or an empty value to disable the endpoints", ErrConfig, EnvHTTPAddr, addr)
		}
	}
	reg := o.registry
	if reg == nil {
		r := ops.DefaultRegistry()
		reg, a.gatherer = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		a.gatherer = g
	} else {
		a.gatherer = prometheus.DefaultGatherer
	}
	if a.metrics, err = ops.NewMetrics(reg, name); err != nil {
		return nil, fmt.Errorf("leaderjob: %w", err)
	}
	a.opts = o
	spreadOn, err := spreadWanted(env, o)
	if err != nil {
		return nil, err
	}
	members, shards := o.membership, 1
	if a.source.guard = o.guard; a.source.guard != nil {
		a.source.name = guardName(a.source.guard)
	} else {
		var src Source
		se := sourceSettings{spread: spreadOn, incarnation: a.runSeq.prefixOf()}
		if src, a.source.name, err = env.guard(name, a.self, a.logger, a.metrics, o.sources, se); err != nil {
			return nil, err
		}
		a.source.guard, a.source.attrs, a.source.ledger = src.Guard, src.Attrs, src.Ledger
		a.ctl.controls = src.Controls
		a.notices.N = src.Notifier
		if members == nil {
			members = src.Members
		}
		shards = src.LedgerShards
	}
	if err := a.setUpSpread(spreadOn, members, shards); err != nil {
		return nil, err
	}
	if o.notifier != nil {
		a.notices.N = o.notifier
	}
	if o.controls != nil {
		a.ctl.controls = o.controls
	}
	a.ctl.kick = make(chan struct{}, 1)
	a.leader = &leadership{self: a.self, logger: a.logger, metrics: a.metrics, notices: &a.notices}
	if err := a.setUpLedger(env, o); err != nil {
		return nil, err
	}
	if err := reg.Register(newLedgerCollector(a)); err != nil {
		return nil, fmt.Errorf("leaderjob: %w", err)
	}
	a.leader.onLead = func() {
		a.kickControls()
		a.startCatchUp()
	}
	a.source.recorded = a.leader.recording(a.source.guard)
	a.tracer = newTracer(o, name, a.self)
	a.path = a.stages()
	a.metrics.Info(a.self, a.source.name)
	return a, nil
}

// Running returns a channel that is closed once Run has started the guard,
// the operations listener and the scheduler.
func (a *App) Running() <-chan struct{} { return a.life.running }

// HTTPAddr returns the address the operations listener is bound to (useful
// with WithHTTPAddr(":0")), or "" when it is disabled or not started.
func (a *App) HTTPAddr() string {
	return a.listener.Bound()
}

// Name returns the App's name.
func (a *App) Name() string { return a.name }

// Identity returns this replica's identity.
func (a *App) Identity() string { return a.self }

// Logger returns the App's logger.
func (a *App) Logger() *slog.Logger { return a.logger }

// Guard returns the App's guard.
func (a *App) Guard() guard.Guard { return a.source.guard }

// Schedule adds a job named name that runs fn on s. It returns an error that
// names the job and the bad value when the name is empty or taken, fn is
// nil, or s is invalid. A schedule switched off with Disabled is accepted and
// logged at start as disabled. Jobs must be added before Run.
func (a *App) Schedule(name string, s Schedule, fn Func, opts ...JobOption) error {
	if name == "" {
		return fmt.Errorf("leaderjob: %w: a job name must not be empty", ErrConfig)
	}
	if fn == nil {
		return fmt.Errorf("leaderjob: job %q: %w", name, ErrNilFunc)
	}
	j := &job{name: name, fn: fn}
	j.running.init()
	for _, o := range opts {
		o(&j.cfg)
	}
	if j.cfg.timeout < 0 {
		return fmt.Errorf("leaderjob: job %q: %w: timeout %v must not be negative", name, ErrConfig, j.cfg.timeout)
	}
	if !s.IsDisabled() {
		resolved, err := s.resolve()
		if err == nil && resolved.kind == kindCron {
			err = validateCron(resolved, a.clock.Now())
		}
		if err != nil {
			return fmt.Errorf("leaderjob: job %q: %w: %w", name, ErrInvalidSchedule, err)
		}
		s = resolved
	}
	j.schedule = s
	j.catchUp = a.fires.catchUp
	if j.cfg.catchUp != nil {
		j.catchUp = *j.cfg.catchUp
	}
	switch {
	case j.cfg.everyReplica:
		j.guard = everyReplicaGuard
	case j.cfg.guard != nil:
		j.guard = j.cfg.guard
	case a.spread != nil:
		// Every fire is claimed: the ledger decides while ownership moves.
		j.guard, j.cfg.claim = a.spread.guardFor(name), true
	default:
		j.guard = a.source.recorded
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return fmt.Errorf("leaderjob: job %q: %w: add jobs before Run", name, ErrAlreadyRun)
	}
	if _, dup := a.jobs[name]; dup {
		return fmt.Errorf("leaderjob: job %q: %w", name, ErrDuplicateJob)
	}
	a.jobs[name] = j
	a.order = append(a.order, j)
	if iv := s.interval(a.clock.Now()); iv > 0 {
		a.metrics.Interval(name, iv)
	}
	a.observeJob(j)
	return nil
}

// Jobs returns the names of the registered jobs in registration order.
func (a *App) Jobs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	names := make([]string, len(a.order))
	for i, j := range a.order {
		names[i] = j.name
	}
	return names
}

// guardName describes a guard given with WithGuard for the logs.
func guardName(g guard.Guard) string {
	if s, ok := g.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", g)
}
