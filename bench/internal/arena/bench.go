// Package arena runs the comparison: for each contender, a fleet of
// replicas (separate OS processes) on the real apiserver or Redis, each
// behind a proxy of its own that counts its requests and can cut it off,
// through a sequence of faults; then the figures of each fault from the
// replicas' run records.
package arena

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/bench/internal/report"
	"github.com/leaderjob/leaderjob/bench/internal/runs"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
)

// Replicas is the size of every fleet.
const Replicas = 3

// Workload: the job every contender runs and its period.
const (
	Job    = "tick"
	Spec   = "* * * * * *"
	Period = time.Second
)

// Phase is how long after a fire each fault begins: while the leader's run
// of that fire is going (the job takes Work, 200ms by default; a run starts
// a few milliseconds after its fire, up to about 100ms with a ledger claim
// first).
const Phase = 120 * time.Millisecond

// Bench is what the contenders share: the binaries, the control plane,
// Redis, the settings.
type Bench struct {
	ContenderBin, ElectorBin, LibraryDir string
	ControlPlane                         *controlplane.ControlPlane
	RedisServer                          string // redis-server's path; "" if missing
	Schedule                             Schedule
	Work                                 time.Duration
	Dir                                  string                        // the results folder
	Logf                                 func(format string, a ...any) // progress
}

func (b *Bench) logf(format string, a ...any) {
	if b.Logf != nil {
		b.Logf(format, a...)
	}
}

// Run runs contender c through faults and returns what it did. A failure
// is recorded in the result, not returned.
func (b *Bench) Run(ctx context.Context, c *Contender, faults []Fault) *report.Contender {
	res := &report.Contender{ID: c.ID, Label: c.Label, How: c.How, Backend: c.Backend, Status: report.StatusOK, Start: time.Now()}
	defer func() { res.End = time.Now() }()
	env := Env{
		ContenderBin: b.ContenderBin, ElectorBin: b.ElectorBin, LibraryDir: b.LibraryDir,
		Timings: b.Schedule.Timings, Work: b.Work, Dir: filepath.Join(b.Dir, c.ID),
	}
	if ok, why := c.Available(&env); !ok {
		res.Status, res.Detail = report.StatusUnavailable, why
		return res
	}
	if err := os.MkdirAll(env.Dir, 0o755); err != nil {
		res.Status, res.Detail = report.StatusFailed, err.Error()
		return res
	}
	cleanup, err := b.backend(ctx, c, &env)
	if err != nil {
		res.Status, res.Detail = report.StatusFailed, err.Error()
		var missing *missingError
		if errors.As(err, &missing) {
			res.Status = report.StatusUnavailable
		}
		return res
	}
	defer cleanup()

	f := newFleet(c, env)
	err = b.drive(ctx, f, faults, res)
	f.stop(b.Schedule.Grace)
	if err != nil {
		res.Status, res.Detail = report.StatusFailed, err.Error()
		var start *StartError
		if errors.As(err, &start) && c.available != nil {
			// An optional contender that does not start is one this build
			// of the library does not offer (yet).
			res.Status = report.StatusUnavailable
		}
	}
	res.Runs = f.Runs()
	for _, r := range f.all() {
		start, end := r.span()
		restarts := 0
		for _, p := range r.procs {
			restarts += max(p.exitCount()-1, 0)
		}
		res.Replicas = append(res.Replicas, report.ReplicaSpan{Name: r.Name, Release: r.Release, Start: start, End: end, Restarts: restarts})
	}
	for i := range res.Segments {
		s := &res.Segments[i]
		s.Figures = runs.Compute(res.Runs, Job, s.Window, Period, s.Events)
	}
	return res
}

// backend prepares what c's replicas depend on: a namespace of their own
// on the apiserver, or a Redis server of their own.
func (b *Bench) backend(ctx context.Context, c *Contender, env *Env) (cleanup func(), err error) {
	switch c.Backend {
	case APIServer:
		if b.ControlPlane == nil {
			return nil, &missingError{"no control plane"}
		}
		env.API = b.ControlPlane.Config()
		env.Namespace, err = b.ControlPlane.CreateNamespace(ctx, "bench-"+c.ID+"-")
		return func() {}, err
	case Redis:
		if b.RedisServer == "" {
			return nil, &missingError{"redis-server is not installed (hack/bench-deps.sh installs Debian's)"}
		}
		srv, err := startRedis(b.RedisServer, env.Dir)
		if err != nil {
			return nil, err
		}
		env.RedisAddr = srv.addr
		return srv.stop, nil
	}
	return nil, fmt.Errorf("unknown backend %q", c.Backend)
}

type missingError struct{ what string }

func (e *missingError) Error() string { return e.what }

// drive starts the fleet, waits until it runs the job, then applies each
// fault in turn, filling res's segments.
func (b *Bench) drive(ctx context.Context, f *Fleet, faults []Fault, res *report.Contender) error {
	b.logf("%s: starting %d replicas", f.c.ID, Replicas)
	var wg sync.WaitGroup
	errs := make([]error, Replicas)
	for i := range Replicas {
		r, err := f.add("v1")
		if err != nil {
			return err
		}
		wg.Go(func() { errs[i] = r.WaitReady(ctx, 2*time.Minute) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := f.running(time.Minute); err != nil {
		return err
	}
	time.Sleep(3 * time.Second) // a few fires of steady state before the first segment

	before := f.counts()
	slot := time.Now().Truncate(Period).Add(Period) // the first segment's first fire
	for _, ft := range faults {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Each segment begins Phase after a fire; its window holds the
		// fires from that one to the next segment's first.
		start := slot.Add(Phase)
		time.Sleep(time.Until(start))
		seg := report.Segment{Fault: ft.ID, Window: runs.Window{From: slot}}
		b.logf("%s: %s", f.c.ID, ft.Label)
		events, err := ft.apply(ctx, f, b.Schedule)
		seg.Events = events
		end := start.Add(ft.Length)
		if settled := time.Now().Add(ft.Settle); settled.After(end) {
			end = settled
		}
		slot = end.Add(-Phase).Truncate(Period).Add(Period)
		seg.Window.To = slot
		next := slot.Add(Phase)
		time.Sleep(time.Until(next))
		after := f.counts()
		seg.Requests, seg.Busiest = rates(f, before, after, start, next)
		before = after
		res.Segments = append(res.Segments, seg)
		if err != nil {
			return fmt.Errorf("%s: %w", ft.Label, err)
		}
	}
	time.Sleep(b.Schedule.tail())
	return nil
}

// rates are the requests per replica per minute between from and to: the
// mean over the replicas (requests over the time they were up) and the
// busiest replica's (among those up for at least half of it).
func rates(f *Fleet, before, after map[string]int64, from, to time.Time) (mean, busiest float64) {
	var total int64
	var minutes float64
	for _, r := range f.all() {
		start, end := r.span()
		if end.IsZero() || end.After(to) {
			end = to
		}
		if start.Before(from) {
			start = from
		}
		up := end.Sub(start).Minutes()
		if up <= 0 {
			continue
		}
		n := after[r.Name] - before[r.Name]
		total += n
		minutes += up
		if up >= to.Sub(from).Minutes()/2 {
			busiest = max(busiest, float64(n)/up)
		}
	}
	if minutes > 0 {
		mean = float64(total) / minutes
	}
	return mean, busiest
}
