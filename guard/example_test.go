package guard_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/leaderjob/leaderjob/guard"
)

func ExampleRun() {
	report := func(ctx context.Context) error {
		fmt.Println("sending the daily report")
		return nil
	}

	o := guard.Run(context.Background(), guard.Always, report)
	fmt.Println(o.Outcome, o.Err)

	o = guard.Run(context.Background(), guard.Never, report)
	fmt.Println(o.Outcome, o.Reason)
	// Output:
	// sending the daily report
	// ran <nil>
	// skipped not_leader
}

func ExampleWrap() {
	purge := guard.Wrap(guard.Never, func(ctx context.Context) error {
		fmt.Println("purging sessions")
		return nil
	})

	err := purge(context.Background())
	fmt.Println(errors.Is(err, guard.ErrSkipped), errors.Is(err, guard.ErrNotLeader))
	fmt.Println(guard.ReasonOf(err))
	// Output:
	// true true
	// not_leader
}

func ExampleDecisionFrom() {
	g := guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) {
		return guard.Decision{Leader: true, Holder: "pod-a", Epoch: 4, HasEpoch: true}, nil
	})
	guard.Run(context.Background(), g, func(ctx context.Context) error {
		d, _ := guard.DecisionFrom(ctx)
		fmt.Printf("writing as %s with fencing token %d\n", d.Holder, d.Epoch)
		return nil
	})
	// Output:
	// writing as pod-a with fencing token 4
}
