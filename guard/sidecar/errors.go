package sidecar

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/wire"
)

// classes pairs each sentinel of package sidecarclient with the guard
// sentinel it stands for. A sidecar that cannot be asked or gives no usable
// answer is unavailable; one that answers without a leader, or with a stale
// answer, says so.
var classes = [...]struct{ client, guard error }{
	{sidecarclient.ErrUnreachable, guard.ErrUnavailable},
	{sidecarclient.ErrTimeout, guard.ErrUnavailable},
	{sidecarclient.ErrBadStatus, guard.ErrUnavailable},
	{sidecarclient.ErrMalformed, guard.ErrUnavailable},
	{sidecarclient.ErrLeaderUnknown, guard.ErrLeaderUnknown},
	{sidecarclient.ErrStale, guard.ErrStale},
}

// guardError is the one place where the sidecar's errors meet package
// guard's. It returns err wrapped so that errors.Is also matches the guard
// sentinel of each sidecarclient sentinel err wraps, and with the same
// message. An error that wraps none of them, such as a context's error, is
// returned as it is; so is nil.
func guardError(err error) error {
	if err == nil {
		return nil
	}
	var kinds []error
	for _, c := range classes {
		if errors.Is(err, c.client) && !slices.Contains(kinds, c.guard) {
			kinds = append(kinds, c.guard)
		}
	}
	if kinds == nil {
		return err
	}
	return &classified{err: err, kinds: kinds}
}

// classified is a sidecar error that also matches guard sentinels.
type classified struct {
	err   error   // the error as the sidecar client (or the age check) made it
	kinds []error // guard sentinels
}

func (e *classified) Error() string { return e.err.Error() }

func (e *classified) Unwrap() []error { return append([]error{e.err}, e.kinds...) }

// staleError is the error of an answer that fails the max age check. It
// reads like the client's errors: "sidecar <url>: <what>: <hint>".
type staleError struct {
	url, what, hint string
}

func (e *staleError) Error() string { return "sidecar " + e.url + ": " + e.what + ": " + e.hint }

// Unwrap returns sidecarclient.ErrStale.
func (e *staleError) Unwrap() error { return sidecarclient.ErrStale }

// checkAge returns an error wrapping sidecarclient.ErrStale when
// l.LastUpdate is more than maxAge before now, or when l has no LastUpdate
// to judge; it returns nil when maxAge is 0 or less. A LastUpdate after now
// counts as fresh. url names the sidecar in the message.
func checkAge(url string, l wire.Leader, now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		return nil
	}
	if l.LastUpdate.IsZero() {
		return &staleError{url: url,
			what: fmt.Sprintf("the answer has no last_update to check against the max age %v", maxAge),
			hint: "this sidecar does not send last_update; turn the age check off",
		}
	}
	if age := now.Sub(l.LastUpdate); age > maxAge {
		return &staleError{url: url,
			what: fmt.Sprintf("last_update %s is %v old, more than the max age %v", l.LastUpdate.Format(time.RFC3339), age.Round(time.Millisecond), maxAge),
			hint: "the leader-elector has stopped refreshing its answer; check its logs, or raise the max age if it refreshes only when the leader changes",
		}
	}
	return nil
}
