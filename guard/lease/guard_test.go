package lease_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/lease"
	"github.com/leaderjob/leaderjob/internal/testutil"
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
			[]string{"WithLeaseDuration(10s) must be longer than WithRenewDeadline(10s)"}},
		{"renew not above 1.2 retry", "pod-a", timings(15*time.Second, 2400*time.Millisecond, 2*time.Second),
			[]string{"WithRenewDeadline(2.4s) must be longer than 1.2 × WithRetryPeriod(2s)"}},
		{"sub-second lease", "pod-a", timings(900*time.Millisecond, 500*time.Millisecond, 100*time.Millisecond),
			[]string{"WithLeaseDuration(900ms) is under 1s"}},
		{"zero", "pod-a", timings(0, 10*time.Second, 2*time.Second), []string{"must all be positive"}},
		{"negative", "pod-a", timings(15*time.Second, 10*time.Second, -time.Second), []string{"must all be positive"}},
		{"several at once", "pod-a", timings(2*time.Second, 3*time.Second, 3*time.Second),
			[]string{"WithLeaseDuration(2s) must be longer", "WithRenewDeadline(3s) must be longer"}},
		{"no name", "pod-a", []lease.Option{lease.WithName("")}, []string{"Lease name is empty (WithName)"}},
		{"no namespace", "pod-a", []lease.Option{lease.WithNamespace("")}, []string{"Lease namespace is empty (WithNamespace)"}},
		{"dotted name", "pod-a", []lease.Option{lease.WithName("billing.jobs-1")}, nil},
		{"bad name", "pod-a", []lease.Option{lease.WithName("Billing_Jobs")},
			[]string{`WithName("Billing_Jobs") is not a valid Lease name: a lowercase RFC 1123 subdomain`}},
		{"long name", "pod-a", []lease.Option{lease.WithName(strings.Repeat("a", 254))},
			[]string{"is not a valid Lease name: must be no more than 253 characters"}},
		{"bad namespace", "pod-a", []lease.Option{lease.WithNamespace("jobs.prod")},
			[]string{`WithNamespace("jobs.prod") is not a valid namespace: must not contain dots`}},
		{"upper-case namespace", "pod-a", []lease.Option{lease.WithNamespace("Jobs")},
			[]string{`WithNamespace("Jobs") is not a valid namespace: a lowercase RFC 1123 label`}},
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

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// An apiserver that does not answer in time makes Check report the election
// request that timed out, as unavailable, not as the caller's timeout.
func TestSlowAPIServerIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	g, err := lease.New(&rest.Config{Host: srv.URL}, "pod-a", append(timings(3*time.Second, 2*time.Second, 500*time.Millisecond),
		lease.WithName("app"), lease.WithoutWatch())...)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Release(context.Background())
	testutil.EventuallyNoError(t, 5*time.Second, "Check reports the apiserver unavailable", func() error {
		if _, err = g.Check(context.Background()); !errors.Is(err, guard.ErrUnavailable) {
			return fmt.Errorf("Check = %v", err)
		}
		return nil
	})
	if guard.ReasonOf(err) != guard.ReasonUnavailable || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check = %v (reason %s), want unavailable without the deadline error", err, guard.ReasonOf(err))
	}
	if !strings.Contains(err.Error(), "get request timed out after 1") {
		t.Errorf("Check = %v, want it to say the get request timed out after the 1s request timeout", err)
	}
}
