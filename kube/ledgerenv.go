package kube

import (
	"fmt"
	"log/slog"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/ledger"
)

// EnvLedger chooses where claimed fires are recorded: configmap (the
// fleet's ConfigMap <app>-leaderjob-ledger, spread over more with
// EnvLedgerShards; the default in lease mode) or
// memory (this process only; the default in sidecar mode, where the app may
// have no credentials for the apiserver).
const EnvLedger = "LEADERJOB_LEDGER"

// ledgerFromEnv returns the ledger LEADERJOB_LEDGER asks for: nil (memory,
// the App's default) or one on the ConfigMap. cfg and namespace, when not
// nil, are the connection the guard uses; otherwise the ledger finds its
// own as the lease source does (in-cluster, else KUBECONFIG).
func ledgerFromEnv(lookup func(string) (string, bool), app string, cfg *rest.Config, namespace string, logger *slog.Logger, def string, extra ...ledger.Option) (ledger.Ledger, string, error) {
	opts := append([]ledger.Option{ledger.WithLogger(logger)}, extra...)
	choice, _ := lookup(EnvLedger)
	choice = strings.ToLower(strings.TrimSpace(choice))
	if choice == "" {
		choice = def
	}
	switch choice {
	case "memory":
		return nil, "memory", nil
	case "configmap":
	default:
		return nil, "", fmt.Errorf("%s=%q: accepted values are configmap, memory", EnvLedger, choice)
	}
	if cfg == nil {
		var err error
		if cfg, namespace, err = restConfig(lookup); err != nil {
			return nil, "", fmt.Errorf("%s=configmap: %w", EnvLedger, err)
		}
		if v, _ := lookup(EnvLeaseNamespace); strings.TrimSpace(v) != "" {
			namespace = strings.TrimSpace(v)
		}
	}
	shards, err := parseShards(lookup)
	if err != nil {
		return nil, "", err
	}
	if shards > 1 {
		backend, err := NewShardedConfigMapBackend(cfg, namespace, app, shards, WithLedgerLogger(logger))
		if err != nil {
			return nil, "", fmt.Errorf("ledger: %w", err)
		}
		return startableLedger{ledger.NewLedger(backend, opts...), backend}, backend.Name(), nil
	}
	backend, err := NewConfigMapBackend(cfg, namespace, app, WithLedgerLogger(logger))
	if err != nil {
		return nil, "", fmt.Errorf("ledger: %w", err)
	}
	return startableLedger{ledger.NewLedger(backend, opts...), backend}, backend.Name(), nil
}
