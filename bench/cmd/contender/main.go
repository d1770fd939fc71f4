// Command contender runs the comparison's workload through one way of
// running scheduled jobs on several replicas. Each process is one replica;
// the comparison (bench/cmd/compare) starts three and injects faults.
//
//	contender leaderjob        leaderjob, configured by its environment
//	                           contract (LEADERJOB_GUARD=lease or sidecar,
//	                           LEADERJOB_CATCH_UP, ...), as a user's main is
//	contender gocron-elector   gocron v2 with an Elector on client-go's
//	                           leaderelection (a Lease)
//	contender gocron-redis     gocron v2 with a Locker on Redis (redsync)
//
// Every contender's job body is work, below.
//
// The workload is the same for each: one job, "tick", on the six-field cron
// "* * * * * *" (every second, UTC), whose run takes -work (default 200ms).
// Every run is logged as one JSON record with msg "job run", the job,
// outcome "ran", scheduled_at (the fire's cron slot), duration (ns) and the
// holder, written when the run ends: leaderjob writes it itself, the other
// kinds write the same fields with log/slog (runlog.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"
)

// Job and Spec are the workload: every contender schedules this one job.
// StartedMsg is the message of the line a run writes when it starts.
const (
	Job        = "tick"
	Spec       = "* * * * * *"
	StartedMsg = "job started"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: contender leaderjob|gocron-elector|gocron-redis [flags]")
		os.Exit(2)
	}
	kind, args := os.Args[1], os.Args[2:]
	var err error
	switch kind {
	case "leaderjob":
		err = runLeaderjob(args)
	case "gocron-elector":
		err = runGocronElector(args)
	case "gocron-redis":
		err = runGocronRedis(args)
	default:
		err = usageError(fmt.Sprintf("unknown contender %q: want leaderjob, gocron-elector or gocron-redis", kind))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "contender %s: %v\n", kind, err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError is a bad command line.
type usageError string

func (u usageError) Error() string { return string(u) }

// workFlag registers -work, how long one run of the job takes.
func workFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("work", 200*time.Millisecond, "how long one run of the job takes")
}

// parse parses args into fs, turning errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// work is the job's body for the fire of slot: it takes d, or less if ctx
// ends first (shutdown, lost leadership). It first writes a "job started"
// line naming the fire, by which the comparison knows which replica is in
// a run when it injects a fault, and when the run began (the run record
// comes only at the end, after a ledger's completion is written).
func work(ctx context.Context, d time.Duration, slot time.Time) error {
	fmt.Fprintf(os.Stdout, "{\"time\":%q,\"msg\":%q,\"job\":%q,\"scheduled_at\":%q}\n",
		time.Now().Format(time.RFC3339Nano), StartedMsg, Job, slot.UTC().Format(time.RFC3339Nano))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
