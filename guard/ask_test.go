package guard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/leaderjob/leaderjob/guard"
)

// Ask says no with Run's skipped Result, and yes with the Decision; Call
// then runs the job under it and reports a lost term as Canceled.
func TestAskThenCall(t *testing.T) {
	follower := guard.CheckFunc(func(context.Context) (guard.Decision, error) {
		return guard.Decision{Holder: "other"}, nil
	})
	res, ok := guard.Ask(context.Background(), follower)
	if ok || res.Outcome != guard.Skipped || res.Reason != guard.ReasonNotLeader || !errors.Is(res.Err, guard.ErrSkipped) {
		t.Fatalf("Ask on a follower = %+v, %v; want a not_leader skip", res, ok)
	}

	lost := make(chan struct{})
	leader := guard.CheckFunc(func(context.Context) (guard.Decision, error) {
		return guard.Decision{Leader: true, Holder: "me", Lost: lost}, nil
	})
	res, ok = guard.Ask(context.Background(), leader)
	if !ok || !res.Decision.Leader || res.Outcome != "" {
		t.Fatalf("Ask on the leader = %+v, %v; want ok with the Decision", res, ok)
	}
	out := guard.Call(context.Background(), res.Decision, func(ctx context.Context) error {
		if d, ok := guard.DecisionFrom(ctx); !ok || d.Holder != "me" {
			t.Errorf("the run context carries %+v, %v", d, ok)
		}
		close(lost)
		<-ctx.Done()
		return context.Cause(ctx)
	})
	if out.Outcome != guard.Canceled || !errors.Is(out.Err, guard.ErrLeadershipLost) {
		t.Errorf("Call whose term ended = %+v; want canceled with ErrLeadershipLost", out)
	}

	closed := make(chan struct{})
	close(closed)
	ended := guard.CheckFunc(func(context.Context) (guard.Decision, error) {
		return guard.Decision{Leader: true, Lost: closed}, nil
	})
	if res, ok := guard.Ask(context.Background(), ended); ok || res.Reason != guard.ReasonNotLeader {
		t.Errorf("Ask whose term has ended = %+v, %v; want a not_leader skip", res, ok)
	}
}
