package sidecar_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/sidecar"
	"github.com/leaderjob/leaderjob/sidecarclient"
)

var guardSentinels = []error{guard.ErrNotLeader, guard.ErrLeaderUnknown, guard.ErrStale, guard.ErrUnavailable,
	guard.ErrForbidden, guard.ErrReleased, guard.ErrLeadershipLost, guard.ErrShuttingDown}

// GuardError gives every error of the client the guard sentinel of its
// class, keeps the client's sentinel and message, and leaves other errors
// alone.
func TestGuardError(t *testing.T) {
	status := &sidecarclient.StatusError{Code: 503, Status: "503 Service Unavailable"}
	for _, tt := range []struct {
		name   string
		err    error
		client error        // the client sentinel it must still match; nil: none
		guard  error        // the only guard sentinel it may match; nil: none
		reason guard.Reason // guard.ReasonOf
	}{
		{"unreachable", sidecarclient.ErrUnreachable, sidecarclient.ErrUnreachable, guard.ErrUnavailable, guard.ReasonUnavailable},
		{"timeout", sidecarclient.ErrTimeout, sidecarclient.ErrTimeout, guard.ErrUnavailable, guard.ReasonUnavailable},
		{"bad status", sidecarclient.ErrBadStatus, sidecarclient.ErrBadStatus, guard.ErrUnavailable, guard.ReasonUnavailable},
		{"status error", fmt.Errorf("sidecar x: %w", status), sidecarclient.ErrBadStatus, guard.ErrUnavailable, guard.ReasonUnavailable},
		{"malformed", sidecarclient.ErrMalformed, sidecarclient.ErrMalformed, guard.ErrUnavailable, guard.ReasonUnavailable},
		{"leader unknown", sidecarclient.ErrLeaderUnknown, sidecarclient.ErrLeaderUnknown, guard.ErrLeaderUnknown, guard.ReasonLeaderUnknown},
		{"stale", sidecarclient.ErrStale, sidecarclient.ErrStale, guard.ErrStale, guard.ReasonStale},
		{"wrapped", fmt.Errorf("sidecar x: %w", sidecarclient.ErrMalformed), sidecarclient.ErrMalformed, guard.ErrUnavailable, guard.ReasonUnavailable},
		// A caller's context ending is not the sidecar's fault.
		{"canceled", fmt.Errorf("sidecar x: gave up: %w", context.Canceled), nil, nil, guard.ReasonCanceled},
		{"canceled with cause", fmt.Errorf("sidecar x: gave up: %w: %w", context.Canceled, guard.ErrShuttingDown), nil, guard.ErrShuttingDown, guard.ReasonCanceled},
		{"upstream deadline", fmt.Errorf("sidecar x: gave up: %w", context.DeadlineExceeded), nil, nil, guard.ReasonUnavailable},
		{"other", errors.New("sidecar x: bad request"), nil, nil, guard.ReasonGuardError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := sidecar.GuardError(tt.err)
			if err.Error() != tt.err.Error() {
				t.Errorf("message %q, want %q", err, tt.err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap the original error", err)
			}
			if tt.client != nil && !errors.Is(err, tt.client) {
				t.Errorf("%v does not wrap %v", err, tt.client)
			}
			for _, s := range guardSentinels {
				if got, want := errors.Is(err, s), s == tt.guard; got != want {
					t.Errorf("errors.Is(%v, guard %q) = %v, want %v", err, s, got, want)
				}
			}
			if got := guard.ReasonOf(err); got != tt.reason {
				t.Errorf("guard.ReasonOf = %q, want %q", got, tt.reason)
			}
			if tt.client == nil && err != tt.err {
				t.Errorf("an error of no sidecar class was rewrapped: %#v", err)
			}
			var se *sidecarclient.StatusError
			if errors.As(tt.err, &se) && (!errors.As(err, &se) || se != status) {
				t.Error("the StatusError is lost")
			}
		})
	}
	if sidecar.GuardError(nil) != nil {
		t.Error("GuardError(nil) != nil")
	}
}

func TestCheckAge(t *testing.T) {
	const url = "http://localhost:4040/"
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		l      sidecarclient.Leader
		maxAge time.Duration
		stale  string // substring of the error, "" for fresh
	}{
		{"off", sidecarclient.Leader{Name: "a"}, 0, ""},
		{"fresh", sidecarclient.Leader{Name: "a", LastUpdate: now.Add(-9 * time.Second)}, 10 * time.Second, ""},
		{"future", sidecarclient.Leader{Name: "a", LastUpdate: now.Add(time.Hour)}, 10 * time.Second, ""},
		{"stale", sidecarclient.Leader{Name: "a", LastUpdate: now.Add(-time.Minute)}, 10 * time.Second, "last_update 2026-01-02T03:03:05Z is 1m0s old, more than the max age 10s"},
		{"absent", sidecarclient.Leader{Name: "a"}, 10 * time.Second, "no last_update"},
	} {
		err := sidecar.GuardError(sidecar.CheckAge(url, tt.l, now, tt.maxAge))
		switch {
		case tt.stale == "" && err != nil:
			t.Errorf("%s: CheckAge = %v, want nil", tt.name, err)
		case tt.stale != "" && (!errors.Is(err, sidecarclient.ErrStale) || guard.ReasonOf(err) != guard.ReasonStale || !strings.Contains(fmtErr(err), tt.stale)):
			t.Errorf("%s: CheckAge = %v, want ErrStale with %q", tt.name, err, tt.stale)
		case tt.stale != "" && sidecarclient.ErrorClass(err) != "stale":
			t.Errorf("%s: ErrorClass = %q, want stale", tt.name, sidecarclient.ErrorClass(err))
		case tt.stale != "" && !strings.HasPrefix(err.Error(), "sidecar "+url+": "):
			t.Errorf("%s: error %q does not start with the sidecar's URL", tt.name, err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// With its defaults the client gives up before guard.Run's default check
// deadline, so that a stalled sidecar is reported as unavailable, not as a
// guard that did not answer.
func TestDefaultBudget(t *testing.T) {
	c, err := sidecarclient.New(sidecar.DefaultURL)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxCallDuration() >= guard.DefaultCheckTimeout {
		t.Errorf("MaxCallDuration %v is not under the guard deadline %v", c.MaxCallDuration(), guard.DefaultCheckTimeout)
	}
}
