package kube

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLedgerFromEnv(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: jobs}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		env       map[string]string
		def       string
		wantWhere string
		wantErr   string
	}{
		{map[string]string{"KUBECONFIG": kubeconfig}, "memory", "memory", ""},
		{map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEDGER": "configmap"}, "memory", "jobs/billing-leaderjob-ledger", ""},
		{map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEDGER": "ConfigMap", "LEADERJOB_LEASE_NAMESPACE": "ops"}, "memory", "ops/billing-leaderjob-ledger", ""},
		{map[string]string{"KUBECONFIG": kubeconfig}, "configmap", "jobs/billing-leaderjob-ledger", ""},
		{map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEDGER": "memory"}, "configmap", "memory", ""},
		{map[string]string{"LEADERJOB_LEDGER": "etcd"}, "memory", "", `LEADERJOB_LEDGER="etcd": accepted values are configmap, memory`},
		{map[string]string{"LEADERJOB_LEDGER": "configmap", "KUBECONFIG": filepath.Join(t.TempDir(), "missing")}, "memory", "", "LEADERJOB_LEDGER=configmap: lease: not in a cluster and no usable kubeconfig"},
	} {
		lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
		l, where, err := ledgerFromEnv(lookup, "billing", nil, "", logger, tc.def)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: error %v, want %q", tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || where != tc.wantWhere || (where == "memory") != (l == nil) {
			t.Errorf("%v (default %s): %v at %q, %v; want %q", tc.env, tc.def, l, where, err, tc.wantWhere)
		}
	}
}
