package kube

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/ledger"
	"github.com/leaderjob/leaderjob/wire"
)

// EnvLedgerShards spreads the ConfigMap ledger over this many objects, 1
// (the default: the one ConfigMap <app>-leaderjob-ledger) to
// wire.MaxLedgerShards: <app>-leaderjob-ledger and
// <app>-leaderjob-ledger-1 ... -<n-1>. See ShardedConfigMapBackend.
const EnvLedgerShards = "LEADERJOB_LEDGER_SHARDS"

// ShardedConfigMapBackend is a ledger.Backend spread over several
// ConfigMaps of app's namespace (ledger.NewShardedBackend): the ledger
// ConfigMap itself, which keeps the fencing tokens, the operators' pauses
// and run records, and the ConfigMaps <app>-leaderjob-ledger-<i> for i
// from 1 to n-1, each holding the records of the jobs of its shard
// (wire.LedgerShardOf). Each object is a ConfigMapBackend of its own: its
// own size limit, compare-and-swap and watch.
//
// Use it when the jobs' records outgrow one object (how many fit is in
// docs/measured.md) or when many jobs fire at once: a claim writes only
// its job's object. Every object's name is fixed in advance, so that a
// Role can name them all (examples/kubernetes/lease/rbac-ledger-shards.yaml).
//
// A release that reads one object (earlier releases) does not see the
// jobs of the other objects: turn spreading on only once every replica
// runs a release that reads the spread ledger, and do not roll back past
// it without setting n back to 1 first (that moves every record back with
// its next write). Spreading over more or fewer objects re-runs nothing.
type ShardedConfigMapBackend struct {
	ledger.Backend
	cfg            *rest.Config
	namespace, app string
	opts           []ConfigMapOption
	n              int

	mu      sync.Mutex
	objs    map[int]*ConfigMapBackend
	errs    map[int]error
	started context.Context // nil until Start
}

// NewShardedConfigMapBackend returns the backend of app's ledger spread
// over n objects (1 to wire.MaxLedgerShards); opts apply to every
// object. It sends no request until used.
func NewShardedConfigMapBackend(cfg *rest.Config, namespace, app string, n int, opts ...ConfigMapOption) (*ShardedConfigMapBackend, error) {
	if namespace == "" || app == "" {
		return nil, errors.New("kube: ledger: the namespace and the app name must not be empty")
	}
	b := &ShardedConfigMapBackend{cfg: cfg, namespace: namespace, app: app, opts: opts, n: n,
		objs: map[int]*ConfigMapBackend{}, errs: map[int]error{}}
	inner, err := ledger.NewShardedBackend(n, b.object)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	b.Backend = inner
	if _, err := b.get(0); err != nil {
		return nil, err
	}
	return b, nil
}

// object is the ledger.Backend of object i (one that fails every call
// when its client cannot be made).
func (b *ShardedConfigMapBackend) object(i int) ledger.Backend {
	o, err := b.get(i)
	if err != nil {
		return failing{err}
	}
	return o
}

func (b *ShardedConfigMapBackend) get(i int) (*ConfigMapBackend, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.objs[i]; ok {
		return o, nil
	}
	if err, ok := b.errs[i]; ok {
		return nil, err
	}
	o, err := newConfigMapObject(b.cfg, b.namespace, b.app, wire.LedgerShardConfigMap(b.app, i), b.opts...)
	if err != nil {
		b.errs[i] = err
		return nil, err
	}
	b.objs[i] = o
	if b.started != nil {
		_ = o.Start(b.started)
	}
	return o, nil
}

// Start checks that this replica may read every object of the configured
// count (a missing RBAC rule is an error that names it), then keeps a
// watch on each until ctx ends, as ConfigMapBackend.Start does; objects
// read later (a ledger spread over more objects by another replica) are
// watched from then on.
func (b *ShardedConfigMapBackend) Start(ctx context.Context) error {
	for i := range b.n {
		o, err := b.get(i)
		if err == nil {
			_, _, err = o.Load(ctx)
		}
		if errors.Is(err, guard.ErrForbidden) {
			return fmt.Errorf("ledger spread over %d objects (%s=%d): %w", b.n, EnvLedgerShards, b.n, err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started != nil {
		return errors.New("kube: ledger backend already started")
	}
	b.started = ctx
	for _, o := range b.objs {
		if err := o.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Requests returns how many requests the objects' backends have sent.
func (b *ShardedConfigMapBackend) Requests() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, o := range b.objs {
		n += o.Requests()
	}
	return n
}

// Name returns the ledger ConfigMap's namespace/name and how many objects
// the ledger is spread over.
func (b *ShardedConfigMapBackend) Name() string {
	return fmt.Sprintf("%s/%s (+%d shards)", b.namespace, LedgerName(b.app), b.n-1)
}

// failing is a Backend whose every call fails with err.
type failing struct{ err error }

func (f failing) Load(context.Context) (ledger.State, string, error) {
	return ledger.State{}, "", f.err
}
func (f failing) Store(context.Context, ledger.State, string) error { return f.err }

// parseShards reads EnvLedgerShards.
func parseShards(lookup func(string) (string, bool)) (int, error) {
	v, ok := lookup(EnvLedgerShards)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > wire.MaxLedgerShards {
		return 0, fmt.Errorf("%s=%q: want a whole number from 1 to %d (how many ConfigMaps the ledger is spread over)", EnvLedgerShards, v, wire.MaxLedgerShards)
	}
	return n, nil
}
