package lease

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// namespaceFile is where a Pod finds its own namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Names of the environment variables FromEnv reads. Errors of a guard built
// by FromEnv name them, because that is where operators set the values.
const (
	EnvLeaseName      = "LEADERJOB_LEASE_NAME"
	EnvLeaseNamespace = "LEADERJOB_LEASE_NAMESPACE"
	EnvLeaseDuration  = "LEADERJOB_LEASE_DURATION"
	EnvRenewDeadline  = "LEADERJOB_RENEW_DEADLINE"
	EnvRetryPeriod    = "LEADERJOB_RETRY_PERIOD"
)

// envNames makes a guard's messages name the variables instead of the options.
var envNames = settingNames{
	name: EnvLeaseName, namespace: EnvLeaseNamespace,
	leaseDuration: EnvLeaseDuration, renewDeadline: EnvRenewDeadline, retryPeriod: EnvRetryPeriod,
	assign: func(setting string, value any) string {
		if s, ok := value.(string); ok {
			return fmt.Sprintf("%s=%q", setting, s)
		}
		return fmt.Sprintf("%s=%v", setting, value)
	},
}

// FromEnv builds a Guard from environment variables read with lookup
// (os.LookupEnv in production), for the application appName with self as
// this replica's identity:
//
//   - the connection: in-cluster (service account) when KUBERNETES_SERVICE_HOST
//     and KUBERNETES_SERVICE_PORT are set, else the kubeconfig files in
//     KUBECONFIG (a path list), else ~/.kube/config;
//   - LEADERJOB_LEASE_NAME: the Lease name, default appName;
//   - LEADERJOB_LEASE_NAMESPACE: the Lease namespace, default the Pod's own
//     namespace (from the service account) in-cluster, else the current kubeconfig
//     context's namespace, else "default";
//   - LEADERJOB_LEASE_DURATION, LEADERJOB_RENEW_DEADLINE,
//     LEADERJOB_RETRY_PERIOD: Go durations, default 15s, 10s, 2s.
//
// A malformed value, a bad combination and an invalid name are errors
// wrapping ErrInvalidConfig that name the variables; so do the guard's
// later messages about a missing namespace. The user agent is
// "leaderjob/<appName>". FromEnv sends no requests.
func FromEnv(lookup func(string) (string, bool), appName, self string, logger *slog.Logger) (*Guard, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []Option{withSettingNames(envNames), WithLogger(logger), WithUserAgent("leaderjob/" + appName), WithName(appName)}
	if v := get(EnvLeaseName); v != "" {
		opts = append(opts, WithName(v))
	}
	for _, d := range []struct {
		name string
		opt  func(time.Duration) Option
	}{
		{EnvLeaseDuration, WithLeaseDuration},
		{EnvRenewDeadline, WithRenewDeadline},
		{EnvRetryPeriod, WithRetryPeriod},
	} {
		v := get(d.name)
		if v == "" {
			continue
		}
		dur, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("lease: %w: %s=%q is not a Go duration (such as 15s or 1m30s)", ErrInvalidConfig, d.name, v)
		}
		opts = append(opts, d.opt(dur))
	}
	cfg, namespace, err := restConfig(get)
	if err != nil {
		return nil, err
	}
	if v := get(EnvLeaseNamespace); v != "" {
		namespace = v
	}
	opts = append(opts, WithNamespace(namespace))
	return New(cfg, self, opts...)
}

// restConfig finds the apiserver and the namespace to default to.
func restConfig(get func(string) string) (*rest.Config, string, error) {
	if get("KUBERNETES_SERVICE_HOST") != "" && get("KUBERNETES_SERVICE_PORT") != "" {
		cfg, err := rest.InClusterConfig()
		switch {
		case err == nil:
			namespace := DefaultNamespace
			if b, err := os.ReadFile(namespaceFile); err == nil && len(strings.TrimSpace(string(b))) > 0 {
				namespace = strings.TrimSpace(string(b))
			}
			return cfg, namespace, nil
		case !errors.Is(err, rest.ErrNotInCluster):
			return nil, "", fmt.Errorf("lease: in-cluster configuration: %w", err)
		}
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: []string{clientcmd.RecommendedHomeFile}}
	kubeconfig := get("KUBECONFIG")
	if kubeconfig != "" {
		rules.Precedence = filepath.SplitList(kubeconfig)
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("lease: not in a cluster and no usable kubeconfig (KUBECONFIG=%q): %w", kubeconfig, err)
	}
	namespace, _, err := loader.Namespace()
	if err != nil || namespace == "" {
		namespace = DefaultNamespace
	}
	return cfg, namespace, nil
}
