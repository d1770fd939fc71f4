// Command cluster starts the single-node test cluster for a person: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, containerd and a
// kubelet, with the example's and the sidecar's images imported. It prints
// one line, export KUBECONFIG=<path>, and runs in the foreground until
// interrupted (^C or SIGTERM), then stops everything it started.
//
//	make cluster
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/leaderjob/leaderjob/internal/cluster"
)

func main() {
	var images []string
	flag.Func("image", "image archive to import (repeatable)", func(s string) error { images = append(images, s); return nil })
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := cluster.Start(ctx, cluster.Options{Images: images, Progress: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig())
	fmt.Fprintf(os.Stderr, "cluster: logs in %s/logs; ^C stops it\n", c.Dir())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "cluster: stopping")
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
