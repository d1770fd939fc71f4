package wire

import "time"

// Answer is the leader answer: the body leaderjob-elector sends on every
// path (and in each event of its change stream), and a leaderjob App on GET
// /leader. Name is the one field of the original protocol (the retired
// Kubernetes contrib image leader-elector:0.5); the others are additions
// its clients ignore. A reader uses ParseAnswer.
type Answer struct {
	// Name is the leader's identity, or "" when the writer cannot confirm
	// one (Reason and Error say why).
	Name string `json:"name"`
	// Self is the writer's own identity (an elector's --id, an App's pod).
	Self string `json:"self,omitempty"`
	// IsLeader reports whether the writer itself is the leader.
	IsLeader bool `json:"is_leader"`
	// Epoch is the Lease's leaseTransitions, the fencing token of the
	// term; absent when unknown.
	Epoch *int64 `json:"epoch,omitempty"`
	// EpochScope names what Epoch counts in: the Lease's UID. A deleted
	// and re-created Lease starts a new scope, with its epochs from 0
	// again; "" when unknown.
	EpochScope string `json:"epoch_scope,omitempty"`
	// LastUpdate is when the writer last confirmed the answer, as an RFC
	// 3339 time (see Timestamp); "" when never.
	LastUpdate string `json:"last_update,omitempty"`
	// LeaseExpires is when the holder's lease runs out unless renewed, as
	// the writer sees it (RFC 3339); "" when unknown.
	LeaseExpires string `json:"lease_expires,omitempty"`
	// Reason is a short code for an answer without a name.
	Reason AnswerReason `json:"reason,omitempty"`
	// Error explains an answer without a name.
	Error string `json:"error,omitempty"`
}

// Timestamp formats t as the answer's times are written: RFC 3339 in UTC,
// with the fraction of a second when there is one.
func Timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// AnswerReason says why an Answer names no leader: a short, stable code.
// It is an open set: readers accept codes they do not know.
type AnswerReason string

// The reasons leaderjob-elector gives.
const (
	AnswerNoLeader    AnswerReason = "no_leader"   // no replica holds the Lease
	AnswerUnknown     AnswerReason = "unknown"     // not read yet, or named but not renewed in this term
	AnswerUnavailable AnswerReason = "unavailable" // the Lease cannot be read or renewed
	AnswerStale       AnswerReason = "stale"       // the Lease was seen too long ago
	AnswerForbidden   AnswerReason = "forbidden"   // the elector's credentials were refused
	AnswerReleased    AnswerReason = "released"    // the elector has let the Lease go for good
)

// The change stream: GET StreamPath on the answer's host answers
// StreamContentType (server-sent events); each event, named StreamEvent,
// carries one Answer as its data, the first the answer at the time of
// connecting, then one per change. A server without the stream answers
// the plain Answer there instead, as the original image answers every
// path.
const (
	StreamPath        = "/sse"
	StreamContentType = "text/event-stream"
	StreamEvent       = "leader"
)
