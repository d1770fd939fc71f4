package lease_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leaderjob/leaderjob/guard/lease"
)

func TestFromEnv(t *testing.T) {
	kubeconfig := t.TempDir() + "/kubeconfig"
	if err := writeFile(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: from-context}}]
current-context: x
`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    []string // substrings of the LogValue
		wantErr string
	}{
		{"kubeconfig namespace", map[string]string{"KUBECONFIG": kubeconfig},
			[]string{"lease_namespace=from-context", "lease_name=billing", "lease_duration=15s", "renew_deadline=10s", "retry_period=2s"}, ""},
		{"overrides", map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEASE_NAMESPACE": "jobs", "LEADERJOB_LEASE_NAME": "billing-leader",
			"LEADERJOB_LEASE_DURATION": "30s", "LEADERJOB_RENEW_DEADLINE": "20s", "LEADERJOB_RETRY_PERIOD": "4s"},
			[]string{"lease_namespace=jobs", "lease_name=billing-leader", "lease_duration=30s", "renew_deadline=20s", "retry_period=4s"}, ""},
		{"bad duration", map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_RENEW_DEADLINE": "ten"}, nil,
			`LEADERJOB_RENEW_DEADLINE="ten" is not a Go duration`},
		{"bad combination", map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEASE_DURATION": "5s"}, nil,
			"LEADERJOB_LEASE_DURATION=5s must be longer than LEADERJOB_RENEW_DEADLINE=10s"},
		{"bad name", map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEASE_NAME": "Billing"}, nil,
			`LEADERJOB_LEASE_NAME="Billing" is not a valid Lease name`},
		{"bad namespace", map[string]string{"KUBECONFIG": kubeconfig, "LEADERJOB_LEASE_NAMESPACE": "a.b"}, nil,
			`LEADERJOB_LEASE_NAMESPACE="a.b" is not a valid namespace`},
		{"no kubeconfig", map[string]string{"KUBECONFIG": t.TempDir() + "/missing"}, nil, "not in a cluster and no usable kubeconfig"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			g, err := lease.FromEnv(lookup, "billing", "pod-a", nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("FromEnv = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := g.LogValue().String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("LogValue %s does not contain %s", got, w)
				}
			}
		})
	}
}

// FromEnv reads the same variables as a leaderjob application.
func ExampleFromEnv() {
	env := map[string]string{
		"LEADERJOB_RETRY_PERIOD":   "2 seconds",
		"LEADERJOB_LEASE_DURATION": "15s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, err := lease.FromEnv(lookup, "billing", "pod-a", nil)
	fmt.Println(err)
	// Output:
	// lease: invalid lease guard configuration: LEADERJOB_RETRY_PERIOD="2 seconds" is not a Go duration (such as 15s or 1m30s)
}
