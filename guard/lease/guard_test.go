package lease_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
)

// nowhere is a configuration New accepts; these tests send no requests.
var nowhere = &rest.Config{Host: "https://127.0.0.1:1"}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		self string
		opts []lease.Option
		want []string // substrings of the error; none: valid
	}{
		{"defaults", "pod-a", nil, nil},
		{"test timings", "pod-a", timings(3*time.Second, 2*time.Second, 500*time.Millisecond), nil},
		{"lease not above renew", "pod-a", timings(10*time.Second, 10*time.Second, 2*time.Second),
			[]string{"LEADERJOB_LEASE_DURATION=10s must be longer than LEADERJOB_RENEW_DEADLINE=10s"}},
		{"renew not above 1.2 retry", "pod-a", timings(15*time.Second, 2400*time.Millisecond, 2*time.Second),
			[]string{"LEADERJOB_RENEW_DEADLINE=2.4s must be longer than 1.2 × LEADERJOB_RETRY_PERIOD=2s"}},
		{"sub-second lease", "pod-a", timings(900*time.Millisecond, 500*time.Millisecond, 100*time.Millisecond),
			[]string{"LEADERJOB_LEASE_DURATION=900ms is under 1s"}},
		{"zero", "pod-a", timings(0, 10*time.Second, 2*time.Second), []string{"must all be positive"}},
		{"negative", "pod-a", timings(15*time.Second, 10*time.Second, -time.Second), []string{"must all be positive"}},
		{"several at once", "pod-a", timings(2*time.Second, 3*time.Second, 3*time.Second),
			[]string{"LEADERJOB_LEASE_DURATION=2s must be longer", "LEADERJOB_RENEW_DEADLINE=3s must be longer"}},
		{"no name", "pod-a", []lease.Option{lease.WithName("")}, []string{"Lease name is empty (LEADERJOB_LEASE_NAME)"}},
		{"no namespace", "pod-a", []lease.Option{lease.WithNamespace("")}, []string{"LEADERJOB_LEASE_NAMESPACE"}},
		{"no identity", "", nil, []string{"identity is empty (set POD_NAME)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]lease.Option{lease.WithName("app")}, tc.opts...)
			_, err := lease.New(nowhere, tc.self, opts...)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, lease.ErrInvalidConfig) {
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func timings(lease_, renew, retry time.Duration) []lease.Option {
	return []lease.Option{lease.WithLeaseDuration(lease_), lease.WithRenewDeadline(renew), lease.WithRetryPeriod(retry)}
}

func TestLifecycleWithoutAServer(t *testing.T) {
	g, err := lease.New(nowhere, "pod-a", lease.WithName("app"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Check(context.Background()); guard.ReasonOf(err) != guard.ReasonLeaderUnknown {
		t.Errorf("Check before Start = %v, want leader unknown", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check with a cancelled context = %v, want context.Canceled", err)
	}
	if err := g.Healthy(); err != nil {
		t.Errorf("Healthy before Start = %v", err)
	}
	if err := g.Release(context.Background()); err != nil {
		t.Errorf("Release before Start = %v", err)
	}
	if err := g.Start(context.Background()); !errors.Is(err, guard.ErrReleased) {
		t.Errorf("Start after Release = %v, want ErrReleased", err)
	}
	if _, err := g.Check(context.Background()); !errors.Is(err, guard.ErrReleased) {
		t.Errorf("Check after Release = %v, want ErrReleased", err)
	}
}

func TestStartTwice(t *testing.T) {
	g, err := lease.New(nowhere, "pod-a", lease.WithName("app"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Release(context.Background())
	if err := g.Start(context.Background()); !errors.Is(err, lease.ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Release(ctx); err != nil {
		t.Errorf("Release = %v", err)
	}
}

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

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
