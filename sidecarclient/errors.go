package sidecarclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by [Client.Leader] wraps exactly one
// of them, or the caller's context error when the caller's context ended.
// They are this package's own: it knows nothing of its callers' error
// vocabularies, which map these sentinels onto theirs (package guard/sidecar
// maps them onto package guard's).
var (
	// ErrUnreachable: no HTTP answer (connection refused, reset, unknown
	// host).
	ErrUnreachable = errors.New("sidecar unreachable")
	// ErrTimeout: an attempt got no complete answer within the per-attempt
	// timeout, and so did every retry.
	ErrTimeout = errors.New("sidecar timed out")
	// ErrBadStatus: the sidecar answered with a status other than 200,
	// including a redirect. The error also holds a [*StatusError].
	ErrBadStatus = errors.New("bad sidecar status")
	// ErrMalformed: the body is not a leader-elector answer (not a JSON
	// object, invalid UTF-8, too large, cut off, wrong field types).
	ErrMalformed = errors.New("malformed sidecar answer")
	// ErrLeaderUnknown: a well-formed answer that names no leader ({} or
	// {"name":""}).
	ErrLeaderUnknown = errors.New("sidecar names no leader")
	// ErrStale: an answer whose last_update is older than the caller
	// accepts. The Client never returns it, as it does not judge
	// [Leader.LastUpdate]; it is for callers that do (a max age is their
	// policy), so that [ErrorClass] reports their error as ClassStale.
	ErrStale = errors.New("stale sidecar answer")
)

// StatusError is held by errors that wrap [ErrBadStatus]; get it with
// errors.As.
type StatusError struct {
	Code     int    // the HTTP status code
	Status   string // the status line text, such as "404 Not Found"
	Location string // the Location header of a redirect, else ""
	Excerpt  string // the start of the body, quoted and shortened; "" if empty
}

func (e *StatusError) Error() string {
	s := "HTTP " + e.Status
	if e.Location != "" {
		s = "redirect (HTTP " + e.Status + ") to " + strconv.Quote(e.Location)
	}
	if e.Excerpt != "" {
		s += " (body starts " + e.Excerpt + ")"
	}
	return s
}

// Unwrap returns ErrBadStatus.
func (e *StatusError) Unwrap() error { return ErrBadStatus }

// Error classes returned by [ErrorClass]: short, stable strings for metric
// labels and log values.
const (
	ClassUnreachable   = "unreachable"
	ClassTimeout       = "timeout"
	ClassBadStatus     = "bad_status"
	ClassMalformed     = "malformed"
	ClassLeaderUnknown = "leader_unknown"
	ClassStale         = "stale"
	ClassCanceled      = "canceled" // the caller's context was cancelled
	ClassOther         = "error"    // none of the above
)

// ErrorClass returns the class of an error returned by this package: one of
// the Class* constants, or "" for nil. A caller's context deadline counts as
// ClassTimeout.
func ErrorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTimeout):
		return ClassTimeout
	case errors.Is(err, ErrUnreachable):
		return ClassUnreachable
	case errors.Is(err, ErrBadStatus):
		return ClassBadStatus
	case errors.Is(err, ErrMalformed):
		return ClassMalformed
	case errors.Is(err, ErrLeaderUnknown):
		return ClassLeaderUnknown
	case errors.Is(err, ErrStale):
		return ClassStale
	case errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	default:
		return ClassOther
	}
}

// fault is what went wrong with one attempt, before the URL is known to it.
type fault struct {
	kind  error  // one of the sentinels
	what  string // what is wrong, for humans
	hint  string // what to do about it; may be ""
	cause error  // wrapped for errors.Is/As; may be nil
	retry bool   // whether another attempt may fare better
	// notJSON: the body is not a JSON object at all (wire.AnswerError);
	// the hint may say where another server listens.
	notJSON bool
}

// callError is the error of a failed call: "sidecar <url>: <what>: <hint>".
type callError struct {
	url      string
	attempts int
	fault
}

func (e *callError) Error() string {
	var b strings.Builder
	b.WriteString("sidecar ")
	b.WriteString(e.url)
	b.WriteString(": ")
	b.WriteString(e.what)
	if e.attempts > 1 {
		fmt.Fprintf(&b, " (%d attempts)", e.attempts)
	}
	if e.hint != "" {
		b.WriteString(": ")
		b.WriteString(e.hint)
	}
	return b.String()
}

func (e *callError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}
