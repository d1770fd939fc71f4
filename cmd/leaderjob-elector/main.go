// Command leaderjob-elector is a leader-elector sidecar on a Kubernetes
// Lease, a drop-in for the retired leader-elector image: same flags, same
// {"name":"<leader>"} answer on any path of --http. See
// examples/kubernetes/sidecar/README.md in the repository.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/leaderjob/leaderjob/cmd/internal/elector"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := elector.Main(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	stop()
	os.Exit(code)
}
