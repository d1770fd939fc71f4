package elector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/wire"
)

// Source is what the elector asks: the Lease guard, or a fake in tests.
type Source interface {
	Check(ctx context.Context) (guard.Decision, error)
	LeaseExpiry() (time.Time, bool)
}

// key identifies an answer for the change stream: a new event is sent only
// when it changes.
func key(a wire.Answer) string {
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
func answer(ctx context.Context, src Source, id string, freshness time.Duration, now time.Time) wire.Answer {
	a := wire.Answer{Self: id}
	d, err := src.Check(ctx)
	if err != nil {
		a.Reason, a.Error = reasonOf(err), err.Error()
		return a
	}
	if d.Holder == "" {
		a.Reason, a.Error = wire.AnswerNoLeader, "no replica holds the Lease"
		if d.Detail != "" {
			a.Error = d.Detail
		}
		return a
	}
	if !d.Leader && (d.Observed.IsZero() || now.Sub(d.Observed) > freshness) {
		a.Reason = wire.AnswerStale
		a.Error = fmt.Sprintf("the Lease was last seen %v ago, longer than the renew deadline %v", now.Sub(d.Observed).Round(time.Millisecond), freshness)
		return a
	}
	if !d.Leader && d.Holder == id {
		// The Lease names this elector, but it has not renewed it in this
		// term: it does not lead, and it cannot vouch for anyone else.
		a.Reason, a.Error = wire.AnswerUnknown, "the Lease names this elector, which has not renewed it yet"
		return a
	}
	a.Name, a.IsLeader = d.Holder, d.Leader
	if !d.Observed.IsZero() {
		a.LastUpdate = wire.Timestamp(d.Observed)
	}
	if d.HasEpoch {
		e := d.Epoch
		a.Epoch, a.EpochScope = &e, d.EpochScope
	}
	if exp, ok := src.LeaseExpiry(); ok {
		a.LeaseExpires = wire.Timestamp(exp)
	}
	return a
}

// reasonOf is the reason an answer gives for the guard's error.
func reasonOf(err error) wire.AnswerReason {
	switch {
	case errors.Is(err, guard.ErrReleased):
		return wire.AnswerReleased
	case errors.Is(err, guard.ErrForbidden):
		return wire.AnswerForbidden
	case errors.Is(err, guard.ErrStale):
		return wire.AnswerStale
	case errors.Is(err, guard.ErrLeaderUnknown):
		return wire.AnswerUnknown
	default:
		return wire.AnswerUnavailable
	}
}
