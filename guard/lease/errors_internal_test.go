package lease

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard"
)

// A request that timed out is the source being unavailable, never the
// caller's own check timing out, whatever shape the timeout takes.
func TestTimedOutRequestsAreUnavailable(t *testing.T) {
	g, err := New(&rest.Config{Host: "https://127.0.0.1:1"}, "pod-a", WithName("app"))
	if err != nil {
		t.Fatal(err)
	}
	leases := schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"client timeout", &url.Error{Op: "Put", URL: "https://127.0.0.1:6443/x", Err: context.DeadlineExceeded}},
		{"wrapped deadline", fmt.Errorf("client rate limiter Wait returned an error: %w", context.DeadlineExceeded)},
		{"apiserver timeout", apierrors.NewTimeoutError("request did not complete within 5s", 0)},
		{"apiserver server timeout", apierrors.NewServerTimeout(leases, "update", 1)},
		{"dial timeout", &url.Error{Op: "Put", URL: "https://127.0.0.1:6443/x", Err: timeoutError{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := g.classify("update", "renew", 5*time.Second+3*time.Millisecond, tc.err)
			if !errors.Is(err, guard.ErrUnavailable) {
				t.Errorf("%v does not wrap guard.ErrUnavailable", err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%v wraps context.DeadlineExceeded", err)
			}
			if r := guard.ReasonOf(err); r != guard.ReasonUnavailable {
				t.Errorf("ReasonOf(%v) = %s, want %s", err, r, guard.ReasonUnavailable)
			}
			if want := "lease default/app: renew request timed out after 5.003s"; !strings.Contains(err.Error(), want) {
				t.Errorf("%q does not say %q", err, want)
			}
			// Run must not take it for its own check timeout either.
			o := guard.Run(context.Background(), guard.Func(func(context.Context) (guard.Decision, error) { return guard.Decision{}, err }),
				func(context.Context) error { t.Error("the job ran"); return nil })
			if o.Reason != guard.ReasonUnavailable {
				t.Errorf("Run's reason = %s, want %s (%v)", o.Reason, guard.ReasonUnavailable, o.Err)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
