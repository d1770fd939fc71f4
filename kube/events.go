package kube

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	eventsv1client "k8s.io/client-go/kubernetes/typed/events/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"

	"github.com/leaderjob/leaderjob/leaderjob"
)

// EventNotifier records the App's notices (leaderjob.Notifier) as
// Kubernetes Events (events.k8s.io/v1) regarding the app's ledger
// ConfigMap, through client-go's event broadcaster, which aggregates
// repeated events into series and rate-limits them. A notice is dropped
// while the ConfigMap does not exist, and when the queue is full. A failed
// write is logged at DEBUG only: a missing RBAC grant must not flood the
// logs. The lease source builds one; the App starts it (Start) and stops
// it (Stop), which shuts the broadcaster down.
type EventNotifier struct {
	configMaps  corev1client.ConfigMapInterface
	namespace   string
	name        string
	log         *slog.Logger
	broadcaster events.EventBroadcaster
	recorder    events.EventRecorder
	queue       chan notice

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
	uid     types.UID // of the ConfigMap, once seen
}

type notice struct{ kind, job, message string }

// NewEventNotifier returns the notifier of app's events on its ledger
// ConfigMap (LedgerName(app)) in namespace.
func NewEventNotifier(cfg *rest.Config, namespace, app string, logger *slog.Logger) (*EventNotifier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	rc := rest.CopyConfig(cfg)
	rc.Timeout = 10 * time.Second
	rc.QPS, rc.Burst, rc.RateLimiter = 5, 10, nil
	rc.UserAgent = "leaderjob/" + app
	rc.WarningHandler = rest.NoWarnings{}
	core, err := corev1client.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: events client: %w", err)
	}
	ev, err := eventsv1client.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kube: events client: %w", err)
	}
	n := &EventNotifier{
		configMaps:  core.ConfigMaps(namespace),
		namespace:   namespace,
		name:        LedgerName(app),
		log:         logger.With(slog.String("component", "events")),
		broadcaster: events.NewBroadcaster(&events.EventSinkImpl{Interface: ev}),
		queue:       make(chan notice, 64),
		done:        make(chan struct{}),
	}
	n.recorder = n.broadcaster.NewRecorder(runtime.NewScheme(), "leaderjob.io/"+app)
	return n, nil
}

// Notify queues a notice; it never blocks.
func (n *EventNotifier) Notify(kind, job, message string) {
	select {
	case n.queue <- notice{kind, job, message}:
	default:
		n.log.Debug("event dropped: the queue is full", slog.String("reason", kind), slog.String("job", job))
	}
}

// Start begins sending the queued notices until Stop or the end of ctx.
func (n *EventNotifier) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.started || n.stopped {
		return nil
	}
	n.started = true
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(debugOnly{n.log.Handler()}))
	ctx, n.cancel = context.WithCancel(ctx)
	if err := n.broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		n.cancel()
		close(n.done)
		return fmt.Errorf("kube: events: %w", err)
	}
	go n.loop(ctx)
	return nil
}

// Stop ends the sending and shuts the broadcaster down; notices still
// queued are dropped.
func (n *EventNotifier) Stop() {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return
	}
	n.stopped = true
	started := n.started
	n.mu.Unlock()
	if started {
		n.cancel()
		<-n.done
	}
	n.broadcaster.Shutdown()
}

func (n *EventNotifier) loop(ctx context.Context) {
	defer close(n.done)
	for {
		select {
		case <-ctx.Done():
			return
		case x := <-n.queue:
			n.record(ctx, x)
		}
	}
}

// The event of each kind of notice: its type and the action it names.
var eventKinds = map[string]struct{ typ, action string }{
	leaderjob.NoticeJobFailed:     {corev1.EventTypeWarning, "Run"},
	leaderjob.NoticeCatchUpRun:    {corev1.EventTypeNormal, "CatchUp"},
	leaderjob.NoticeJobPaused:     {corev1.EventTypeNormal, "Pause"},
	leaderjob.NoticeJobResumed:    {corev1.EventTypeNormal, "Resume"},
	leaderjob.NoticeLeaderElected: {corev1.EventTypeNormal, "Lead"},
}

func (n *EventNotifier) record(ctx context.Context, x notice) {
	ref, err := n.regarding(ctx)
	if err != nil {
		n.log.Debug("event not recorded: "+err.Error(), slog.String("reason", x.kind), slog.String("job", x.job))
		return
	}
	k, ok := eventKinds[x.kind]
	if !ok {
		k.typ, k.action = corev1.EventTypeNormal, x.kind
	}
	// The action names the job: the broadcaster aggregates events by
	// object, reason and action, so each job has its own series.
	action := k.action
	if x.job != "" {
		action += " " + x.job
	}
	message := x.message
	if len(message) > 1000 {
		message = message[:1000]
	}
	n.recorder.Eventf(ref, nil, k.typ, x.kind, truncate(action, 128), "%s", message)
}

// regarding is the reference to the ledger ConfigMap, or an error while
// it does not exist or cannot be read.
func (n *EventNotifier) regarding(ctx context.Context) (*corev1.ObjectReference, error) {
	n.mu.Lock()
	uid := n.uid
	n.mu.Unlock()
	if uid == "" {
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cm, err := n.configMaps.Get(gctx, n.name, metav1.GetOptions{})
		cancel()
		switch {
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("the ConfigMap %s/%s does not exist yet", n.namespace, n.name)
		case err != nil:
			return nil, fmt.Errorf("the ConfigMap %s/%s cannot be read: %w", n.namespace, n.name, err)
		}
		uid = cm.UID
		n.mu.Lock()
		n.uid = uid
		n.mu.Unlock()
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: n.namespace, Name: n.name, UID: uid}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// debugOnly passes the event machinery's records (errors included) on at
// DEBUG, and drops its verbose ones.
type debugOnly struct{ h slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(as []slog.Attr) slog.Handler { return debugOnly{d.h.WithAttrs(as)} }
func (d debugOnly) WithGroup(g string) slog.Handler       { return debugOnly{d.h.WithGroup(g)} }
