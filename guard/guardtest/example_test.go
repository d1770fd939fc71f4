package guardtest_test

import (
	"context"
	"fmt"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
)

func ExampleGuard() {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	job := func(ctx context.Context) error {
		d, _ := guard.DecisionFrom(ctx)
		fmt.Println("running as", d.Holder, "in epoch", d.Epoch)
		return nil
	}

	o := guard.Run(context.Background(), g, job)
	fmt.Println(o.Outcome)

	g.SetFollower("pod-b")
	o = guard.Run(context.Background(), g, job)
	fmt.Println(o.Outcome, o.Reason, o.Decision.Holder)

	g.SetLeader()
	guard.Run(context.Background(), g, job)
	fmt.Println(len(g.Checks()), "checks")
	// Output:
	// running as pod-a in epoch 1
	// ran
	// skipped not_leader pod-b
	// running as pod-a in epoch 2
	// 3 checks
}
