package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/wire"
)

// Names of the control ConfigMap, where operators pause jobs and request
// runs (kubectl leaderjob pause, resume, run). It is separate from the
// ledger so that operators need no write access to the ledger, and the
// App needs only get and watch on it.
const (
	// ControlSuffix ends the ConfigMap's name: <app>-leaderjob-control.
	ControlSuffix = wire.ControlSuffix
	// ControlDataKey is the data key that holds the JSON-encoded
	// wire.Control.
	ControlDataKey = wire.ControlDataKey
)

// ControlName returns the name of app's control ConfigMap.
func ControlName(app string) string { return wire.ControlConfigMap(app) }

// DecodeControl reads the requests out of a control ConfigMap (nil, or
// without the data key: none) with wire.DecodeControl.
func DecodeControl(cm *corev1.ConfigMap) (wire.Control, error) {
	if cm == nil {
		return wire.Control{}, nil
	}
	c, err := wire.DecodeControl([]byte(cm.Data[ControlDataKey]))
	if err != nil {
		return wire.Control{}, fmt.Errorf("kube: control configmap %s/%s, key %s: %w", cm.Namespace, cm.Name, ControlDataKey, err)
	}
	return c, nil
}

// EncodeControl writes c into cm (labelled as app's) with
// wire.EncodeControl, for the tools that write the requests.
func EncodeControl(cm *corev1.ConfigMap, app string, c wire.Control) error {
	b, err := wire.EncodeControl(c)
	if err != nil {
		return err
	}
	cm.Labels = wire.Labels(cm.Labels, app)
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[ControlDataKey] = string(b)
	return nil
}

// ConfigMapControls are an App's leaderjob.Controls on its control
// ConfigMap, namespace/<app>-leaderjob-control. Once started it keeps a
// watch on the ConfigMap (by name) and answers Current from the watched
// copy; without the watch Current reads it from the apiserver. An absent
// ConfigMap is no request.
//
// RBAC: get and watch on configmaps named <app>-leaderjob-control.
type ConfigMapControls struct {
	namespace, name, desc string
	client, watcher       corev1client.ConfigMapInterface
	log                   *slog.Logger
	started               atomic.Bool
	changes               chan struct{}

	mu      sync.Mutex
	watched bool
	known   bool
	cm      *corev1.ConfigMap
}

// NewConfigMapControls returns the controls of app in namespace.
func NewConfigMapControls(cfg *rest.Config, namespace, app string, logger *slog.Logger) (*ConfigMapControls, error) {
	if namespace == "" || app == "" {
		return nil, errors.New("kube: controls: the namespace and the app name must not be empty")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &ConfigMapControls{namespace: namespace, name: ControlName(app), changes: make(chan struct{}, 1)}
	c.desc = namespace + "/" + c.name
	c.log = logger.With(slog.String("component", "controls"), slog.String("configmap", c.desc))
	var err error
	if c.client, c.watcher, err = configMapClients(cfg, namespace, app, nil); err != nil {
		return nil, fmt.Errorf("kube: controls client: %w", err)
	}
	return c, nil
}

// Name returns the ConfigMap's namespace/name.
func (c *ConfigMapControls) Name() string { return c.desc }

// Changes receives a value after the ConfigMap changed.
func (c *ConfigMapControls) Changes() <-chan struct{} { return c.changes }

// Current returns the requests as the ConfigMap holds them.
func (c *ConfigMapControls) Current(ctx context.Context) (wire.Control, error) {
	c.mu.Lock()
	if c.watched && c.known {
		cm := c.cm
		c.mu.Unlock()
		return DecodeControl(cm)
	}
	c.mu.Unlock()
	cm, err := c.get(ctx)
	if err != nil {
		return wire.Control{}, err
	}
	return DecodeControl(cm)
}

func (c *ConfigMapControls) get(ctx context.Context) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cm, err := c.client.Get(ctx, c.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return nil, fmt.Errorf("%w: configmap %s: %w: grant get and watch on configmaps named %s in namespace %s (see %s)",
			guard.ErrForbidden, c.desc, err, c.name, c.namespace, ledgerRBACHint)
	case err != nil:
		return nil, fmt.Errorf("kube: controls: configmap %s: %w", c.desc, err)
	}
	return cm, nil
}

// Start keeps a watch on the ConfigMap until ctx ends.
func (c *ConfigMapControls) Start(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("kube: controls already started")
	}
	go c.watch(ctx)
	return nil
}

func (c *ConfigMapControls) seen(cm *corev1.ConfigMap) {
	c.mu.Lock()
	changed := !c.known || (c.cm == nil) != (cm == nil) || (cm != nil && cm.ResourceVersion != c.cm.ResourceVersion)
	c.cm, c.known = cm, true
	c.mu.Unlock()
	if changed {
		select {
		case c.changes <- struct{}{}:
		default:
		}
	}
}

func (c *ConfigMapControls) setWatched(w bool) {
	c.mu.Lock()
	c.watched = w
	c.mu.Unlock()
}

func (c *ConfigMapControls) watch(ctx context.Context) {
	namedwatch.Watcher[*corev1.ConfigMap]{
		Name:  c.name,
		Watch: c.watcher.Watch,
		Resync: func(ctx context.Context) (string, error) {
			cm, err := c.get(ctx)
			if err != nil {
				return "", err
			}
			c.seen(cm)
			if cm == nil {
				return "", nil
			}
			return cm.ResourceVersion, nil
		},
		Seen: func(cm *corev1.ConfigMap, deleted bool) {
			if deleted {
				cm = nil
			}
			c.seen(cm)
		},
		Up:         c.setWatched,
		MinBackoff: 500 * time.Millisecond,
		MaxBackoff: maxLedgerWatchBackoff,
		Failed: func(err error, wait time.Duration) time.Duration {
			c.log.Warn("cannot watch the operators' controls; they are read on each fire instead", slog.String("error", err.Error()))
			return wait
		},
	}.Run(ctx)
	c.setWatched(false)
}

var _ leaderjob.Controls = (*ConfigMapControls)(nil)
