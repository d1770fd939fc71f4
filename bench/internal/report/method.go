package report

import (
	"bufio"
	"fmt"
	"time"
)

// method writes how the comparison was run and how to read its figures.
func method(w *bufio.Writer, r *Result) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	s := r.Settings
	p("## How it was run")
	p("")
	p("**Workload.** One job, `%s`, on the six-field cron `%s` (every %v, UTC); each run takes %v. "+
		"%d replicas per contender, each a separate OS process (two for the sidecar contender: the app and its elector), "+
		"started from one binary (`bench/cmd/contender`) and `leaderjob-elector`. The apiserver is a real kube-apiserver "+
		"with etcd on loopback (the one the tests start); Redis is Debian's `redis-server` on loopback, one per contender run.",
		s.Job, s.Spec, time.Duration(s.Period), time.Duration(s.Work), s.Replicas)
	p("")
	defaults := ""
	if s.Timings == "15s/10s/2s" {
		defaults = " (leaderjob's defaults, not scaled down)"
	}
	p("**Timings.** Every Lease-based contender uses lease duration / renew deadline / retry period = %s%s. "+
		"The Redis lock uses redsync's default expiry, 8s. "+
		"A terminated replica has a grace period of %v before SIGKILL.", s.Timings, defaults, time.Duration(s.Grace))
	p("")
	p("**Contenders**, each written the way its documentation shows:")
	p("")
	for _, c := range r.Entries {
		p("- **%s**: %s.", c.Label, c.How)
	}
	p("")
	p("**Ready**, for the rolling update (a new replica must be ready before an old one is stopped): leaderjob's `/readyz` " +
		"(the App runs and its guard has answered); for the sidecar pod, the elector's `/readyz` (a leader was named) and the app's; " +
		"for gocron with the Elector, the scheduler runs and the election has observed a leader; for gocron with the Locker, " +
		"the scheduler runs (Redis answered PING at start).")
	p("")
	p("**Faults**, in this order on one fleet per contender, each in a segment of its own; each begins %v after a fire, "+
		"while that fire's run is going. \"The leader\" is the replica in that run (the one whose job body started last; "+
		"with a lock per run, the replica that won this fire). A process that exits on its own is started again after 1s "+
		"under the same name, as a kubelet restarts a container.", time.Duration(s.Phase))
	p("")
	for _, f := range r.Faults {
		p("- **%s**: %s.", f.Label, f.What)
	}
	p("")
	p("**Figures**, counted over the fires scheduled in the segment (whenever they ran):")
	p("")
	p("- *fires lost*: fires with no completed run (none, or only runs cut short); *fires doubled*: fires whose job was called more than once, " +
		"a call cut short included (it may have had its effect);")
	p("- *runs cut short*: runs whose context was cancelled before the job finished (shutdown, lost leadership); the job returns at once, as a well-behaved job does;")
	p("- *overlapping runs*: pairs of runs on different replicas going at the same time (a run frozen by SIGSTOP is going while it is frozen);")
	p("- *lag*: from the fire's scheduled time to the start of its run (the run's own \"job started\" line, written as the job's function begins, so a ledger's completion written after the run does not count); catch-up runs count with their full lag;")
	p("- *next run after the fault*: from the fault's instant to the first run started by a replica other than the one hit (for the rolling update, the longest over its three stops);")
	p("- *requests / replica / min*: requests each replica sent through its proxy to the apiserver (a watch counts once, when opened) or commands to Redis, per minute it was up; in brackets the busiest replica (usually the leader).")
	p("")
	p("**Caveats.** Replicas speak plain HTTP to their proxy, which holds the apiserver's credentials and TLS: the same for every contender. "+
		"The cut-off proxy refuses connections at once (a partition that rejects rather than drops packets). "+
		"gocron hands a task no fire time, so the gocron contenders log as `scheduled_at` the second their run started in: "+
		"exact for runs that start less than a second late, and for a run delayed longer (after a pause) the second it started in, so its lag reads short. "+
		"All replicas share one clock, so nothing here shows clock skew, which makes lock-per-run schedulers double more. "+
		"One run on a %d-CPU machine: a few milliseconds of lag, and a single doubled fire, can come from scheduling noise.", r.Machine.CPUs)
}
