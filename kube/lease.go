package kube

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/incluster"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/ledger"
)

// Names of the environment variables the lease source reads (the guard
// that Guards builds for LEADERJOB_GUARD=lease, see leaseGuard). The
// guard's configuration errors and later messages name these variables
// rather than the guard/lease options, because that is where operators set
// the values.
const (
	EnvLeaseName      = "LEADERJOB_LEASE_NAME"
	EnvLeaseNamespace = "LEADERJOB_LEASE_NAMESPACE"
	EnvLeaseDuration  = "LEADERJOB_LEASE_DURATION"
	EnvRenewDeadline  = "LEADERJOB_RENEW_DEADLINE"
	EnvRetryPeriod    = "LEADERJOB_RETRY_PERIOD"
	// EnvPodTemplateHash refines the release a replica hands leadership
	// away from (LEADERJOB_VERSION): set it from the pod's
	// pod-template-hash label (downward API), so that a rollout restart,
	// which keeps the version, still hands over to the new pods. One-shot
	// jobs key on LEADERJOB_VERSION alone. See lease.WithRelease.
	EnvPodTemplateHash = "LEADERJOB_POD_TEMPLATE_HASH"
)

// envNames makes a guard's messages name the variables instead of the options.
var envNames = lease.WithSettingNames(lease.SettingNames{
	Name: EnvLeaseName, Namespace: EnvLeaseNamespace,
	LeaseDuration: EnvLeaseDuration, RenewDeadline: EnvRenewDeadline, RetryPeriod: EnvRetryPeriod,
})

// leaseFromEnv builds a Lease guard from environment variables read with lookup
// (os.LookupEnv in production), for the application appName with self as
// this replica's identity:
//
//   - the connection: in-cluster (service account) when KUBERNETES_SERVICE_HOST
//     and KUBERNETES_SERVICE_PORT are set and the service account's token is
//     mounted (incluster.Detect), else the kubeconfig files in KUBECONFIG (a
//     path list), else ~/.kube/config;
//   - LEADERJOB_LEASE_NAME: the Lease name, default appName;
//   - LEADERJOB_LEASE_NAMESPACE: the Lease namespace, default the Pod's own
//     namespace (from the service account) in-cluster, else the current kubeconfig
//     context's namespace, else "default";
//   - LEADERJOB_LEASE_DURATION, LEADERJOB_RENEW_DEADLINE,
//     LEADERJOB_RETRY_PERIOD: Go durations, default 15s, 10s, 2s.
//
// A malformed value, a bad combination and an invalid name are errors
// wrapping lease.ErrInvalidConfig that name the variables; so do the guard's
// later messages about a missing namespace. The user agent is
// "leaderjob/<appName>". Like lease.New, it sends no requests.
func leaseFromEnv(lookup func(string) (string, bool), appName, self string, logger *slog.Logger) (*lease.Guard, error) {
	g, _, _, err := leaseAndConfigFromEnv(lookup, appName, self, logger)
	return g, err
}

// leaseAndConfigFromEnv is leaseFromEnv that also returns the connection
// and the namespace, for the ledger beside the Lease.
func leaseAndConfigFromEnv(lookup func(string) (string, bool), appName, self string, logger *slog.Logger, extra ...lease.Option) (*lease.Guard, *rest.Config, string, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []lease.Option{envNames, lease.WithLogger(logger), lease.WithUserAgent("leaderjob/" + appName), lease.WithName(appName)}
	if v := get(EnvLeaseName); v != "" {
		opts = append(opts, lease.WithName(v))
	}
	for _, d := range []struct {
		name string
		opt  func(time.Duration) lease.Option
	}{
		{EnvLeaseDuration, lease.WithLeaseDuration},
		{EnvRenewDeadline, lease.WithRenewDeadline},
		{EnvRetryPeriod, lease.WithRetryPeriod},
	} {
		v := get(d.name)
		if v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return nil, nil, "", fmt.Errorf("lease: %w: %s=%q is not a Go duration (such as 15s or 1m30s)", lease.ErrInvalidConfig, d.name, v)
		}
		opts = append(opts, d.opt(dur))
	}
	release := get(leaderjob.EnvVersion)
	if release == "" {
		release = leaderjob.DefaultVersion()
	}
	if h := get(EnvPodTemplateHash); h != "" {
		release += "+" + h
	}
	opts = append(opts, lease.WithRelease(release))
	cfg, namespace, err := restConfig(lookup)
	if err != nil {
		return nil, nil, "", err
	}
	if v := get(EnvLeaseNamespace); v != "" {
		namespace = v
	}
	opts = append(opts, lease.WithNamespace(namespace))
	g, err := lease.New(cfg, self, append(opts, extra...)...)
	return g, cfg, namespace, err
}

// restConfig finds the apiserver and the namespace to default to: the
// pod's service account inside a cluster (incluster.Detect), else the
// kubeconfig files in KUBECONFIG (a path list), else ~/.kube/config.
func restConfig(lookup func(string) (string, bool)) (*rest.Config, string, error) {
	if incluster.Detect(lookup) {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("lease: in-cluster configuration: %w", err)
		}
		namespace := incluster.Namespace()
		if namespace == "" {
			namespace = lease.DefaultNamespace
		}
		return cfg, namespace, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: []string{clientcmd.RecommendedHomeFile}}
	kubeconfig, _ := lookup("KUBECONFIG")
	if kubeconfig = strings.TrimSpace(kubeconfig); kubeconfig != "" {
		rules.Precedence = filepath.SplitList(kubeconfig)
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("lease: not in a cluster and no usable kubeconfig (KUBECONFIG=%q): %w", kubeconfig, err)
	}
	namespace, _, err := loader.Namespace()
	if err != nil || namespace == "" {
		namespace = lease.DefaultNamespace
	}
	return cfg, namespace, nil
}

// leaseGuard builds the in-process Lease guard from the LEADERJOB_LEASE_*
// variables, the fleet's ledger on a ConfigMap beside the Lease
// (LedgerName of the app, in the Lease's namespace), the operators'
// controls, and the notifier that records the App's notices as Events
// regarding the ledger ConfigMap (EventNotifier); all on one connection.
func leaseGuard(env leaderjob.SourceEnv) (leaderjob.Source, error) {
	var extra []lease.Option
	if env.Spread {
		extra = append(extra, lease.WithMembership(env.Incarnation))
	}
	lg, cfg, namespace, err := leaseAndConfigFromEnv(env.Lookup, env.App, env.Identity, env.Logger, extra...)
	if err != nil {
		return leaderjob.Source{}, err
	}
	shards, err := parseShards(env.Lookup)
	if err != nil {
		return leaderjob.Source{}, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var ledgerOpts []ledger.Option
	if env.Spread {
		// Several writers: a conflict is likelier, and worth more retries
		// (the write timeout still bounds them).
		ledgerOpts = append(ledgerOpts, ledger.WithMaxRetries(spreadLedgerRetries))
	}
	l, where, err := ledgerFromEnv(env.Lookup, env.App, cfg, namespace, logger, "configmap", ledgerOpts...)
	if err != nil {
		return leaderjob.Source{}, err
	}
	controls, err := NewConfigMapControls(cfg, namespace, env.App, logger)
	if err != nil {
		return leaderjob.Source{}, fmt.Errorf("controls: %w", err)
	}
	notifier, err := NewEventNotifier(cfg, namespace, env.App, logger)
	if err != nil {
		return leaderjob.Source{}, err
	}
	attrs := append(lg.LogValue().Group(), slog.String("ledger", where), slog.String("controls", controls.Name()))
	if env.Spread {
		attrs = append(attrs, slog.Bool("spread", true))
	}
	return leaderjob.Source{Guard: lg, Attrs: attrs, Ledger: l, Controls: controls, Notifier: notifier,
		Members: lg.Members(), LedgerShards: shards}, nil
}

// spreadLedgerRetries bounds the retries of a ledger write after a
// version conflict in spread mode, where every replica writes.
const spreadLedgerRetries = 20

// startableLedger is a Ledger whose backend watches its object once the
// App starts it (guard.Starter), so that standbys read it without polling.
type startableLedger struct {
	ledger.Ledger
	backend interface{ Start(context.Context) error }
}

func (l startableLedger) Start(ctx context.Context) error { return l.backend.Start(ctx) }
