package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-co-op/gocron/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// leaseElector is a gocron.Elector on client-go's leaderelection, written
// as the two libraries document their parts. gocron's Elector asks one
// question before each run, IsLeader, and skips the run on an error.
// client-go's leaderelection example tracks leadership with its callbacks:
// OnStartedLeading when this replica acquired the Lease, OnStoppedLeading
// when it stopped renewing it (at the renew deadline) or released it. The
// elector answers from that state. (LeaderElector.IsLeader, the other way
// to ask, stays true after a failed renewal until a read of the Lease shows
// another holder: the callbacks are the stricter of the two.)
type leaseElector struct {
	leading atomic.Bool
}

func (e *leaseElector) IsLeader(context.Context) error {
	if e.leading.Load() {
		return nil
	}
	return errors.New("not the leader")
}

// runGocronElector runs the job on gocron v2 with the Elector above, on a
// Lease through client-go's leaderelection with ReleaseOnCancel (as its
// example does): on SIGTERM the scheduler shuts down first (waiting for a
// running job), then the election is cancelled, which releases the Lease.
// Leader election re-contends after losing the Lease, for as long as the
// process runs: Run returns when leadership is lost.
func runGocronElector(args []string) error {
	fs := flag.NewFlagSet("gocron-elector", flag.ContinueOnError)
	d := workFlag(fs)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file")
	namespace := fs.String("namespace", "default", "the Lease's namespace")
	name := fs.String("lease", "bench", "the Lease's name")
	id := fs.String("id", os.Getenv("POD_NAME"), "this replica's identity")
	leaseDuration := fs.Duration("lease-duration", 15*time.Second, "LeaseDuration")
	renewDeadline := fs.Duration("renew-deadline", 10*time.Second, "RenewDeadline")
	retryPeriod := fs.Duration("retry-period", 2*time.Second, "RetryPeriod")
	readyAddr := fs.String("ready-addr", "", "address of /readyz; empty serves none")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError("-id (or POD_NAME) is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	el := &leaseElector{}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: *name, Namespace: *namespace},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: *id},
		},
		ReleaseOnCancel: true,
		LeaseDuration:   *leaseDuration,
		RenewDeadline:   *renewDeadline,
		RetryPeriod:     *retryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { el.leading.Store(true) },
			OnStoppedLeading: func() { el.leading.Store(false) },
		},
		Name: *name,
	})
	if err != nil {
		return err
	}
	electing, stopElecting := context.WithCancel(context.Background())
	elected := make(chan struct{})
	go func() {
		defer close(elected)
		for electing.Err() == nil {
			le.Run(electing)
		}
	}()

	s, err := tickScheduler(gocron.WithDistributedElector(el), *id, *d)
	if err != nil {
		stopElecting()
		return err
	}
	s.Start()
	// Ready once the scheduler runs and the election has named a leader.
	stopReady, err := serveReady(*readyAddr, func() error {
		if le.GetLeader() == "" {
			return errors.New("no leader observed yet")
		}
		return nil
	})
	if err != nil {
		_ = s.Shutdown()
		stopElecting()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	<-ctx.Done()
	stopReady()
	err = s.Shutdown()
	stopElecting()
	<-elected
	return err
}
