package arena

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/leaderjob/leaderjob/bench/internal/runs"
)

// Fault is one of the faults every contender goes through, in order, on
// one fleet. apply does it and returns the instants it hit a replica; the
// segment lasts at least Length from its start, and Settle after apply
// returns.
type Fault struct {
	ID, Label, What string
	Length, Settle  time.Duration
	apply           func(ctx context.Context, f *Fleet, s Schedule) ([]runs.Event, error)
}

// Schedule is how long the faults last.
type Schedule struct {
	Timings Timings
	Grace   time.Duration // termination grace period, as a pod's
	// Scale shortens every segment (1 for the full comparison; the smoke
	// test uses less).
	Scale float64
}

func (s Schedule) scaled(d time.Duration) time.Duration {
	if s.Scale <= 0 {
		return d
	}
	return time.Duration(float64(d) * s.Scale)
}

// tail is how long the fleet keeps running after the last segment, so that
// a late (catch-up) run of its last fires is still seen.
func (s Schedule) tail() time.Duration { return max(s.scaled(8*time.Second), 2*time.Second) }

// Faults returns the faults in the order they are applied.
func Faults(s Schedule) []Fault {
	lease := s.Timings.Lease
	return []Fault{
		{
			ID: "steady", Label: "Steady state", Length: s.scaled(30 * time.Second),
			What:  "nothing happens",
			apply: func(context.Context, *Fleet, Schedule) ([]runs.Event, error) { return nil, nil },
		},
		{
			ID: "sigterm", Label: "SIGTERM of the leader", Length: s.scaled(30 * time.Second),
			What:  "the leader gets SIGTERM (then SIGKILL after the grace period), and a replacement starts at once, as when its pod is deleted",
			apply: ending(syscall.SIGTERM),
		},
		{
			ID: "sigkill", Label: "SIGKILL of the leader", Length: lease + s.scaled(25*time.Second),
			What:  "the leader gets SIGKILL, and a replacement starts at once",
			apply: ending(syscall.SIGKILL),
		},
		{
			ID: "sigstop", Label: "SIGSTOP past the lease, SIGCONT", Length: lease + 5*time.Second + s.scaled(15*time.Second),
			What:  "every process of the leader gets SIGSTOP, and SIGCONT a lease duration and 5s later",
			apply: pause(lease + 5*time.Second),
		},
		{
			ID: "rollout", Label: "Rolling update of 3 replicas", Settle: s.scaled(15 * time.Second),
			What:  "maxSurge 1, maxUnavailable 0: a replica of the new release starts; once it is ready, an old replica gets SIGTERM (the most recently started first, as a ReplicaSet picks); three times",
			apply: rollout,
		},
		{
			ID: "partition", Label: "Leader cut off (apiserver or Redis)", Length: lease + 10*time.Second + s.scaled(15*time.Second),
			What:  "the proxy between the leader and its server closes every connection and refuses new ones for a lease duration and 10s",
			apply: partition(lease + 10*time.Second),
		},
	}
}

// ending signals the leader to end (SIGTERM, or SIGKILL) and starts a
// replacement of the current release right away.
func ending(sig syscall.Signal) func(context.Context, *Fleet, Schedule) ([]runs.Event, error) {
	return func(_ context.Context, f *Fleet, s Schedule) ([]runs.Event, error) {
		l, err := f.leader()
		if err != nil {
			return nil, err
		}
		ev := runs.Event{At: time.Now(), Replica: l.Name}
		if sig == syscall.SIGKILL {
			l.Kill()
		} else {
			go l.Terminate(s.Grace)
		}
		if _, err := f.add(l.Release); err != nil {
			return []runs.Event{ev}, err
		}
		return []runs.Event{ev}, nil
	}
}

// pause freezes every process of the leader for d.
func pause(d time.Duration) func(context.Context, *Fleet, Schedule) ([]runs.Event, error) {
	return func(ctx context.Context, f *Fleet, _ Schedule) ([]runs.Event, error) {
		l, err := f.leader()
		if err != nil {
			return nil, err
		}
		ev := runs.Event{At: time.Now(), Replica: l.Name}
		l.Signal(syscall.SIGSTOP)
		defer l.Signal(syscall.SIGCONT)
		sleep(ctx, d)
		return []runs.Event{ev}, nil
	}
}

// partition cuts the leader off for d.
func partition(d time.Duration) func(context.Context, *Fleet, Schedule) ([]runs.Event, error) {
	return func(ctx context.Context, f *Fleet, _ Schedule) ([]runs.Event, error) {
		l, err := f.leader()
		if err != nil {
			return nil, err
		}
		ev := runs.Event{At: time.Now(), Replica: l.Name}
		l.proxy.SetCut(true)
		defer l.proxy.SetCut(false)
		sleep(ctx, d)
		return []runs.Event{ev}, nil
	}
}

// newRelease names the release a rolling update brings.
const newRelease = "v2"

// rollout replaces every live replica with one of a new release, one at a
// time: a new replica starts, and once it is ready an old one is sent
// SIGTERM (most recently started first) without waiting for it to exit.
func rollout(ctx context.Context, f *Fleet, s Schedule) ([]runs.Event, error) {
	old := f.alive()
	slices.Reverse(old)
	var events []runs.Event
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, o := range old {
		n, err := f.add(newRelease)
		if err != nil {
			return events, err
		}
		if err := n.WaitReady(ctx, 2*time.Minute); err != nil {
			return events, fmt.Errorf("rolling update: %w", err)
		}
		events = append(events, runs.Event{At: time.Now(), Replica: o.Name})
		wg.Go(func() { o.Terminate(s.Grace) })
	}
	return events, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
