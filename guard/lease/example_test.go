package lease_test

import (
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard/lease"
)

// Timings are checked when the guard is built, with client-go's rules, and
// the error names the options to change.
func ExampleNew_invalidTimings() {
	_, err := lease.New(&rest.Config{Host: "https://127.0.0.1:6443"}, "pod-a",
		lease.WithName("billing"),
		lease.WithLeaseDuration(10*time.Second),
		lease.WithRenewDeadline(10*time.Second),
	)
	fmt.Println(err)
	// Output:
	// lease: invalid lease guard configuration: WithLeaseDuration(10s) must be longer than WithRenewDeadline(10s)
}
