package elector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// Source is what the elector asks: the Lease guard, or a fake in tests.
type Source interface {
	Check(ctx context.Context) (guard.Decision, error)
	LeaseExpiry() (time.Time, bool)
}

// Answer is the body of one protocol answer. Name is the field clients of
// the original image read; the others are additions they ignore.
type Answer struct {
	// Name is the leader's identity, or "" when this elector cannot
	// confirm one (Reason and Error say why).
	Name string `json:"name"`
	// LastUpdate is when this elector last confirmed the answer: the last
	// renewal it sent when it leads, else when it last saw the Lease.
	LastUpdate string `json:"last_update,omitempty"`
	// Epoch is the Lease's leaseTransitions, the fencing token of the term.
	Epoch *int64 `json:"epoch,omitempty"`
	// IsLeader reports whether this elector (its --id) is the leader.
	IsLeader bool `json:"is_leader"`
	// LeaseExpires is when the holder's lease runs out unless renewed, as
	// this elector sees it.
	LeaseExpires string `json:"lease_expires,omitempty"`
	// Reason is a short code for an answer without a name: no_leader (the
	// Lease is free), unknown (not read yet), unavailable, stale,
	// forbidden, released.
	Reason string `json:"reason,omitempty"`
	// Error explains an answer without a name.
	Error string `json:"error,omitempty"`
	// Self is this elector's identity (its --id), as in the app's
	// /leader answer.
	Self string `json:"self,omitempty"`
}

// key identifies an answer for the change stream: a new event is sent only
// when it changes.
func (a Answer) key() string {
	var e int64 = -1
	if a.Epoch != nil {
		e = *a.Epoch
	}
	return fmt.Sprintf("%s\x00%d\x00%t\x00%s", a.Name, e, a.IsLeader, a.Reason)
}

// answer builds the answer from src now. freshness is how old the last
// confirmation of another holder may be before the name is withheld: an
// elector whose view of the Lease stopped moving (a watch gone silent) must
// not keep naming a leader. A failed request makes src.Check fail, and the
// name is withheld at once; the leader's own answer follows its Lease
// guard's renew deadline.
func answer(ctx context.Context, src Source, id string, freshness time.Duration, now time.Time) Answer {
	a := Answer{Self: id}
	d, err := src.Check(ctx)
	if err != nil {
		a.Reason, a.Error = reasonOf(err), err.Error()
		return a
	}
	if d.Holder == "" {
		a.Reason, a.Error = "no_leader", "no replica holds the Lease"
		if d.Detail != "" {
			a.Error = d.Detail
		}
		return a
	}
	if !d.Leader && (d.Observed.IsZero() || now.Sub(d.Observed) > freshness) {
		a.Reason = "stale"
		a.Error = fmt.Sprintf("the Lease was last seen %v ago, longer than the renew deadline %v", now.Sub(d.Observed).Round(time.Millisecond), freshness)
		return a
	}
	if !d.Leader && d.Holder == id {
		// The Lease names this elector, but it has not renewed it in this
		// term: it does not lead, and it cannot vouch for anyone else.
		a.Reason, a.Error = "unknown", "the Lease names this elector, which has not renewed it yet"
		return a
	}
	a.Name, a.IsLeader = d.Holder, d.Leader
	if !d.Observed.IsZero() {
		a.LastUpdate = d.Observed.UTC().Format(time.RFC3339Nano)
	}
	if d.HasEpoch {
		e := d.Epoch
		a.Epoch = &e
	}
	if exp, ok := src.LeaseExpiry(); ok {
		a.LeaseExpires = exp.UTC().Format(time.RFC3339Nano)
	}
	return a
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, guard.ErrReleased):
		return "released"
	case errors.Is(err, guard.ErrForbidden):
		return "forbidden"
	case errors.Is(err, guard.ErrStale):
		return "stale"
	case errors.Is(err, guard.ErrLeaderUnknown):
		return "unknown"
	default:
		return "unavailable"
	}
}
