package lease_test

import (
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/leaderjob/leaderjob/guard/lease"
)

// Timings are checked when the guard is built, with client-go's rules, and
// the error names the variables an operator sets.
func ExampleNew_invalidTimings() {
	_, err := lease.New(&rest.Config{Host: "https://127.0.0.1:6443"}, "pod-a",
		lease.WithName("billing"),
		lease.WithLeaseDuration(10*time.Second),
		lease.WithRenewDeadline(10*time.Second),
	)
	fmt.Println(err)
	// Output:
	// lease: invalid lease guard configuration: LEADERJOB_LEASE_DURATION=10s must be longer than LEADERJOB_RENEW_DEADLINE=10s
}

// FromEnv reads the same variables as a leaderjob application.
func ExampleFromEnv() {
	env := map[string]string{
		"LEADERJOB_RETRY_PERIOD":   "2 seconds",
		"LEADERJOB_LEASE_DURATION": "15s",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	_, err := lease.FromEnv(lookup, "billing", "pod-a", nil)
	fmt.Println(err)
	// Output:
	// lease: invalid lease guard configuration: LEADERJOB_RETRY_PERIOD="2 seconds" is not a Go duration (such as 15s or 1m30s)
}
