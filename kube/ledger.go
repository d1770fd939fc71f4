package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/internal/namedwatch"
	"github.com/leaderjob/leaderjob/ledger"
	"github.com/leaderjob/leaderjob/wire"
)

// Names and limits of the ledger's ConfigMap.
const (
	// LedgerSuffix ends the ConfigMap's name: <app>-leaderjob-ledger.
	LedgerSuffix = wire.LedgerSuffix
	// LedgerDataKey is the data key that holds the JSON-encoded ledger.State.
	LedgerDataKey = wire.LedgerDataKey
	// LabelManagedBy and LabelApp label the ConfigMap, so that tools can
	// list the apps of a namespace that keep a ledger:
	//	kubectl get configmaps -l app.kubernetes.io/managed-by=leaderjob
	LabelManagedBy = wire.LabelManagedBy
	LabelApp       = wire.LabelApp
	// DefaultLedgerMaxBytes bounds the encoded State, well under the 1 MiB
	// an API object may hold. How many jobs fit is measured, with its
	// command, in docs/measured.md.
	DefaultLedgerMaxBytes = 256 << 10
)

// ledgerRBACHint names the manifest that grants what the backend needs.
const ledgerRBACHint = "examples/kubernetes/lease/rbac.yaml"

// LedgerName returns the name of app's ledger ConfigMap.
func LedgerName(app string) string { return wire.LedgerConfigMap(app) }

// ConfigMapBackend is a ledger.Backend on one ConfigMap per app,
// <app>-leaderjob-ledger, whose data key ledger.json holds the
// JSON-encoded ledger.State; the ConfigMap's resourceVersion is the
// version, and the apiserver's optimistic concurrency (409 Conflict on a
// stale resourceVersion) is the compare-and-swap.
//
// The ledger is a ConfigMap of its own rather than annotations on the
// Lease because client-go renews the Lease every retry period with the
// resourceVersion it last read: ledger writes on the same object would
// make renewals fail with conflicts (and a leader lose its term), and
// renewals would make ledger writes conflict.
//
// Size: Store refuses a State whose encoding exceeds the limit
// (DefaultLedgerMaxBytes, or the value given to WithLedgerMaxBytes, which
// should stay below what the apiserver accepts in one object) with
// ledger.ErrTooLarge, before sending any request. A job's record is
// bounded by ledger.HistoryLen and ledger.MaxErrorLen (see package
// ledger). How many jobs the default limit holds is measured by
// TestLedgerEncodedSize; the figures, next to the command that prints
// them, are in docs/measured.md.
//
// Traffic: a write is one request carrying the whole ledger; a leader's
// Load after its own write needs none. The apiserver sends each write to
// every watching standby. The requests and bytes per minute of a leader
// and its standbys are measured by TestLedgerMeasure (with
// LEADERJOB_MEASURE=1); the figures, with the command, are in
// docs/measured.md.
//
// Reads: once Start is called the backend keeps a watch on its ConfigMap
// (by name, so RBAC resourceNames can limit it), and Load is answered from
// the watched copy while the watch is open: a standby sends no requests in
// steady state. A stale copy can only make Store fail with
// ledger.ErrConflict, after which the next Load reads from the apiserver.
// Without the watch (before Start, or while it is down) Load reads from the
// apiserver.
//
// RBAC: get, update and watch on configmaps limited to the ledger's name,
// and create on configmaps (create cannot be limited by name; an operator
// may instead create the ConfigMap beforehand). A refusal is an error that
// names the rule and wraps ledger.ErrUnavailable and guard.ErrForbidden.
type ConfigMapBackend struct {
	namespace, name, app string
	desc                 string
	maxBytes             int
	log                  *slog.Logger
	logPeriod            time.Duration

	client   corev1client.ConfigMapInterface // requests, with a timeout
	watcher  corev1client.ConfigMapInterface // the watch, without
	requests atomic.Int64
	started  atomic.Bool
	changes  chan struct{}

	mu      sync.Mutex
	watched bool              // the watch is open: cm is the latest known
	doubted bool              // a write conflicted: read from the apiserver
	cm      *corev1.ConfigMap // the ConfigMap as last seen; nil = absent
	known   bool              // cm is known (nil means absent, not unknown)
	refused map[string]error  // versions not to overwrite: corrupt or newer
	// The last version decoded, kept to answer Loads of the same version
	// with a copy instead of a decode.
	decoded     *ledger.State
	decodedRV   string
	decodedData string
	logLim      logLimit
}

// ConfigMapOption configures a ConfigMapBackend.
type ConfigMapOption func(*ConfigMapBackend)

// WithLedgerMaxBytes sets the largest encoded State Store writes.
func WithLedgerMaxBytes(n int) ConfigMapOption {
	return func(b *ConfigMapBackend) { b.maxBytes = n }
}

// WithLedgerLogger sets the logger for warnings (watch failures, refused
// requests), each logged at most once per minute while it persists.
func WithLedgerLogger(l *slog.Logger) ConfigMapOption {
	return func(b *ConfigMapBackend) { b.log = l }
}

// NewConfigMapBackend returns the backend of app's ledger, the ConfigMap
// namespace/<app>-leaderjob-ledger, talking to the apiserver of cfg with
// the user agent "leaderjob/<app>". It sends no request until used.
func NewConfigMapBackend(cfg *rest.Config, namespace, app string, opts ...ConfigMapOption) (*ConfigMapBackend, error) {
	return newConfigMapObject(cfg, namespace, app, LedgerName(app), opts...)
}

// newConfigMapObject returns the backend of one of app's ledger objects,
// the ConfigMap namespace/name.
func newConfigMapObject(cfg *rest.Config, namespace, app, name string, opts ...ConfigMapOption) (*ConfigMapBackend, error) {
	if namespace == "" || app == "" {
		return nil, errors.New("kube: ledger: the namespace and the app name must not be empty")
	}
	b := &ConfigMapBackend{
		namespace: namespace, name: name, app: app,
		maxBytes: DefaultLedgerMaxBytes, logPeriod: time.Minute,
		changes: make(chan struct{}, 1), refused: map[string]error{},
	}
	b.desc = namespace + "/" + b.name
	for _, o := range opts {
		o(b)
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	b.log = b.log.With(slog.String("component", "ledger"), slog.String("configmap", b.desc))
	count := func(rt http.RoundTripper) http.RoundTripper { return counting{rt, &b.requests} }
	var err error
	if b.client, b.watcher, err = configMapClients(cfg, namespace, app, count); err != nil {
		return nil, fmt.Errorf("kube: ledger client: %w", err)
	}
	return b, nil
}

// counting counts the requests sent through it.
type counting struct {
	rt http.RoundTripper
	n  *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// Requests returns how many requests the backend has sent (an opened watch
// counts as one).
func (b *ConfigMapBackend) Requests() int64 { return b.requests.Load() }

// Name returns the ConfigMap's namespace/name.
func (b *ConfigMapBackend) Name() string { return b.desc }

// Changes receives a value after the ConfigMap changed (as seen on the
// watch, or written by this backend): a signal to refresh a status view
// with Load. Signals coalesce; the channel is never closed.
func (b *ConfigMapBackend) Changes() <-chan struct{} { return b.changes }

// Start keeps a watch on the ConfigMap until ctx ends. It returns at once;
// a second call is an error.
func (b *ConfigMapBackend) Start(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return errors.New("kube: ledger backend already started")
	}
	go b.watch(ctx)
	return nil
}

// Watching reports whether the watch is open, so that Load is answered
// without a request.
func (b *ConfigMapBackend) Watching() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.watched && b.known
}

// Load returns the State and the ConfigMap's resourceVersion; a zero State
// and "" when there is no ConfigMap yet. A ConfigMap without the data key,
// or with an empty value there (created beforehand by an operator), is an
// empty ledger at its version. Data that wire.DecodeLedger refuses (not
// JSON, or JSON that is not a ledger: null, {}, a job set to null, ...) is
// ledger.ErrCorrupt, with what is wrong and what to do; that version of
// the ConfigMap is never overwritten.
func (b *ConfigMapBackend) Load(ctx context.Context) (ledger.State, string, error) {
	b.mu.Lock()
	if b.watched && b.known && !b.doubted {
		cm := b.cm
		b.mu.Unlock()
		return b.decode(cm)
	}
	b.mu.Unlock()
	cm, err := b.client.Get(ctx, b.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		cm = nil
	case err != nil:
		return ledger.State{}, "", b.classify("get", err)
	}
	b.mu.Lock()
	b.doubted = false
	b.seenLocked(cm, true)
	b.mu.Unlock()
	return b.decode(cm)
}

// decode reads the State out of cm (nil: none yet).
func (b *ConfigMapBackend) decode(cm *corev1.ConfigMap) (ledger.State, string, error) {
	if cm == nil {
		return ledger.State{}, "", nil
	}
	rv := cm.ResourceVersion
	data, ok := cm.Data[LedgerDataKey]
	if !ok {
		return ledger.State{}, rv, nil
	}
	b.mu.Lock()
	if b.decoded != nil && b.decodedRV == rv && b.decodedData == data {
		// The same version as the last decode: a copy of it (the caller
		// may change what it gets), not a decode of the whole ledger.
		s := b.decoded.Clone()
		b.mu.Unlock()
		return s, rv, nil
	}
	b.mu.Unlock()
	l, err := wire.DecodeLedger([]byte(data))
	var newer *wire.FormatError
	if errors.As(err, &newer) {
		return ledger.State{}, "", b.refuse(rv, fmt.Errorf("%w: configmap %s holds ledger format %d, this release knows up to %d: it is left alone until this app is upgraded",
			wire.ErrNewerFormat, b.desc, newer.Version, wire.LedgerFormat))
	}
	if err != nil {
		return ledger.State{}, "", b.refuse(rv, fmt.Errorf("%w: configmap %s, key %s: %w: it is not overwritten, and claims fail until it is fixed: put the ledger back (from a backup), or delete the ConfigMap to start a fresh ledger (kubectl delete configmap -n %s %s)",
			ledger.ErrCorrupt, b.desc, LedgerDataKey, err, b.namespace, b.name))
	}
	s := ledger.State(l)
	c := s.Clone()
	b.mu.Lock()
	b.decoded, b.decodedRV, b.decodedData = &c, rv, data
	b.mu.Unlock()
	return s, rv, nil
}

// refuse remembers that the ConfigMap at version rv must not be
// overwritten, and returns err.
func (b *ConfigMapBackend) refuse(rv string, err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refused[rv] = err
	b.logLimitedLocked("ledger not usable", err)
	return err
}

// Store writes s if the ConfigMap is still at version ("" = absent):
// ledger.ErrConflict if it changed. A State encoded larger than the limit
// is ledger.ErrTooLarge and is not sent; a ConfigMap this backend found
// corrupt or of a newer format is not overwritten.
func (b *ConfigMapBackend) Store(ctx context.Context, s ledger.State, version string) error {
	data, err := wire.EncodeLedger(wire.Ledger(s))
	if err != nil {
		return fmt.Errorf("kube: ledger: encoding: %w", err)
	}
	if len(data) > b.maxBytes {
		return fmt.Errorf("%w: configmap %s: the ledger of %d jobs encodes to %d bytes, over the limit of %d: spread the ledger over more objects (%s), remove jobs, or raise the limit",
			ledger.ErrTooLarge, b.desc, len(s.Jobs), len(data), b.maxBytes, EnvLedgerShards)
	}
	b.mu.Lock()
	if err := b.refused[version]; err != nil && version != "" {
		b.mu.Unlock()
		return err
	}
	var base *corev1.ConfigMap
	if b.cm != nil && b.cm.ResourceVersion == version {
		base = b.cm
	}
	b.mu.Unlock()

	var cm *corev1.ConfigMap
	if base != nil {
		cm = base.DeepCopy() // keeps what others put on it: other keys, labels
	} else {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: b.name, Namespace: b.namespace}}
	}
	cm.ResourceVersion = version
	cm.Labels = wire.Labels(cm.Labels, b.app)
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[LedgerDataKey] = string(data)

	var out *corev1.ConfigMap
	verb := "update"
	if version == "" {
		verb = "create"
		cm.ResourceVersion = ""
		out, err = b.client.Create(ctx, cm, metav1.CreateOptions{})
	} else {
		out, err = b.client.Update(ctx, cm, metav1.UpdateOptions{})
	}
	switch {
	case err == nil:
		b.mu.Lock()
		b.seenLocked(out, false)
		b.mu.Unlock()
		return nil
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err),
		verb == "update" && apierrors.IsNotFound(err): // deleted since: the next Load finds none
		b.mu.Lock()
		b.doubted = true
		b.mu.Unlock()
		return fmt.Errorf("%w: configmap %s changed since version %q", ledger.ErrConflict, b.desc, version)
	}
	return b.classify(verb, err)
}

// seenLocked records cm (nil: absent) as the latest known ConfigMap.
// A copy older than the one known is ignored (resourceVersions are
// compared as numbers when both are, as etcd makes them); fromGet says
// that cm is the apiserver's answer to a read, which is taken as it is.
func (b *ConfigMapBackend) seenLocked(cm *corev1.ConfigMap, fromGet bool) {
	if !fromGet && b.known && b.cm != nil && cm != nil && older(cm.ResourceVersion, b.cm.ResourceVersion) {
		return
	}
	changed := !b.known || (b.cm == nil) != (cm == nil) || (cm != nil && cm.ResourceVersion != b.cm.ResourceVersion)
	b.cm, b.known = cm, true
	if changed {
		select {
		case b.changes <- struct{}{}:
		default:
		}
	}
}

// older reports whether resourceVersion a is before b, when both are
// numbers.
func older(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}

// classify turns a failed request into the error to return: one that
// wraps ledger.ErrUnavailable and says what to do.
func (b *ConfigMapBackend) classify(verb string, err error) error {
	var cerr error
	switch {
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		cerr = fmt.Errorf("%w: %w: configmap %s: %s: %w: grant get, update and watch on configmaps named %s, and create on configmaps, in namespace %s to this replica's identity (see %s)",
			ledger.ErrUnavailable, guard.ErrForbidden, b.desc, verb, err, b.name, b.namespace, ledgerRBACHint)
	case apierrors.IsRequestEntityTooLargeError(err), apierrors.HasStatusCause(err, metav1.CauseTypeTooLong):
		cerr = fmt.Errorf("%w: configmap %s: %s: %w", ledger.ErrTooLarge, b.desc, verb, err)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		cerr = fmt.Errorf("%w: configmap %s: the apiserver refused the %s request as invalid: %w: check the app name (it names the ConfigMap and labels it) and the namespace",
			ledger.ErrUnavailable, b.desc, verb, err)
	case verb == "create" && apierrors.IsNotFound(err):
		cerr = fmt.Errorf("%w: configmap %s: %w: create namespace %q or use an existing one",
			ledger.ErrUnavailable, b.desc, err, b.namespace)
	case timedOut(err):
		cerr = fmt.Errorf("%w: configmap %s: %s request timed out: %v", ledger.ErrUnavailable, b.desc, verb, err)
	default:
		cerr = fmt.Errorf("%w: configmap %s: %s: %w", ledger.ErrUnavailable, b.desc, verb, err)
	}
	b.mu.Lock()
	b.logLimitedLocked("ledger request failed", cerr)
	b.mu.Unlock()
	return cerr
}

// timedOut reports whether a request failed because it, or the apiserver
// working on it, ran out of time.
func timedOut(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) ||
		(errors.As(err, &t) && t.Timeout())
}

// logLimit bounds how often one persisting error is logged.
type logLimit struct {
	key        string
	at         time.Time
	suppressed int
}

// logLimitedLocked logs err at warning level unless the same message was
// logged less than the log period ago.
func (b *ConfigMapBackend) logLimitedLocked(msg string, err error) {
	key := msg + ": " + err.Error()
	now := time.Now()
	if key == b.logLim.key && now.Sub(b.logLim.at) < b.logPeriod {
		b.logLim.suppressed++
		return
	}
	attrs := []slog.Attr{slog.String("error", err.Error())}
	if b.logLim.suppressed > 0 {
		attrs = append(attrs, slog.Int("repeated", b.logLim.suppressed))
	}
	b.log.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
	b.logLim = logLimit{key: key, at: now}
}

// maxLedgerWatchBackoff caps the wait between failed attempts to watch.
const maxLedgerWatchBackoff = 30 * time.Second

// watch keeps a watch open on the ConfigMap until ctx ends: the ConfigMap
// is read first (and again after the watch's resourceVersion expired), then
// watched from there.
func (b *ConfigMapBackend) watch(ctx context.Context) {
	namedwatch.Watcher[*corev1.ConfigMap]{
		Name:  b.name,
		Watch: b.watcher.Watch,
		Resync: func(ctx context.Context) (string, error) {
			cm, err := b.watcherGet(ctx)
			if err != nil {
				return "", err
			}
			b.mu.Lock()
			b.seenLocked(cm, true)
			b.mu.Unlock()
			if cm == nil {
				return "", nil
			}
			return cm.ResourceVersion, nil
		},
		Seen: func(cm *corev1.ConfigMap, deleted bool) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if deleted {
				b.seenLocked(nil, true)
			} else {
				b.seenLocked(cm, false)
			}
		},
		Up: func(up bool) {
			b.mu.Lock()
			b.watched = up
			b.mu.Unlock()
		},
		MinBackoff: 500 * time.Millisecond,
		MaxBackoff: maxLedgerWatchBackoff,
		Failed: func(err error, wait time.Duration) time.Duration {
			b.mu.Lock()
			defer b.mu.Unlock()
			if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
				b.logLimitedLocked("cannot watch the ledger; Load reads it from the apiserver instead (grant watch on configmaps named "+b.name+")", err)
				return max(wait, b.logPeriod)
			}
			b.log.Debug("ledger watch failed", slog.String("error", err.Error()))
			return wait
		},
	}.Run(ctx)
	b.mu.Lock()
	b.watched = false
	b.mu.Unlock()
}

// watcherGet reads the ConfigMap (nil when absent) for the watch.
func (b *ConfigMapBackend) watcherGet(ctx context.Context) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cm, err := b.client.Get(ctx, b.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return cm, err
}

var _ ledger.Backend = (*ConfigMapBackend)(nil)

// configMapClients returns the clients of a watched ConfigMap: one for
// requests (10 s timeout) and one for the watch (none), with the election
// traffic's limits and user agent; wrap, if not nil, sees every request.
func configMapClients(cfg *rest.Config, namespace, app string, wrap func(http.RoundTripper) http.RoundTripper) (client, watcher corev1client.ConfigMapInterface, err error) {
	clientFor := func(timeout time.Duration) (corev1client.ConfigMapInterface, error) {
		c := rest.CopyConfig(cfg)
		c.Timeout = timeout
		c.QPS, c.Burst, c.RateLimiter = 5, 10, nil
		c.UserAgent = "leaderjob/" + app
		c.WarningHandler = rest.NoWarnings{}
		if wrap != nil {
			c.Wrap(wrap)
		}
		cs, err := corev1client.NewForConfig(c)
		if err != nil {
			return nil, err
		}
		return cs.ConfigMaps(namespace), nil
	}
	if client, err = clientFor(10 * time.Second); err != nil {
		return nil, nil, err
	}
	watcher, err = clientFor(0)
	return client, watcher, err
}
