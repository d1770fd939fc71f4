// Command cluster starts the single-node cluster of the real-cluster tests
// for a person: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd and a kubelet, with the pause image and the
// examples' images (example.com/monolith:1.0.0,
// example.com/leaderjob-elector:1.0.0) built from this repository and
// imported. It prints one line, export KUBECONFIG=<path>, and runs in the
// foreground until interrupted (^C, SIGTERM, or cluster -stop from another
// terminal), then stops everything it started. Run it from the repository
// root, as root:
//
//	make cluster
//	make cluster-stop
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/cluster"
)

func main() {
	stop := flag.Bool("stop", false, "stop the cluster that runs on this machine and exit")
	flag.Parse()
	if err := run(*stop); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(stopOther bool) error {
	if stopOther {
		return cluster.StopRunning(90 * time.Second)
	}
	if err := cluster.CheckFree(); err != nil {
		return err // before building the images
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "leaderjob-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	began := time.Now()
	images, err := cluster.BuildImages(ctx, root, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "cluster: images built in %.1fs\n", time.Since(began).Seconds())
	c, err := cluster.Start(ctx, cluster.Options{Images: images, Progress: os.Stderr})
	if err != nil {
		return err
	}
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig())
	fmt.Fprintf(os.Stderr, "cluster: kubectl of the apiserver's version: %s; logs in %s/logs; ^C or make cluster-stop stops it\n",
		c.Kubectl(), c.Dir())
	<-ctx.Done()
	stop() // a second ^C ends this process at once (the components die with it)
	fmt.Fprintln(os.Stderr, "cluster: stopping (^C again to kill it now)")
	return c.Stop()
}
