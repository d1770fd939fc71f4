// Command compare runs the comparison of leaderjob with the other ways of
// running scheduled jobs on several replicas (make bench runs it):
//
//	go run ./bench/cmd/compare [-out bench/results] [-publish docs] [-contenders a,b] [-faults x,y]
//
// It builds the contender program and leaderjob-elector, starts a real
// etcd and kube-apiserver on loopback (the test rig's control plane;
// KUBEBUILDER_ASSETS=$(hack/controlplane.sh) provides the binaries),
// starts redis-server on loopback for the Redis contender, runs every
// contender through the faults, and writes into a new folder
// <out>/<time>/: comparison.md (the tables), timeline.svg (the picture),
// results.json (every run, to draw them again with -from) and each
// replica's log. With -publish it also writes comparison.md and
// comparison.svg into that folder (the repository's docs/).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/leaderjob/leaderjob/bench/internal/arena"
	"github.com/leaderjob/leaderjob/bench/internal/report"
	"github.com/leaderjob/leaderjob/bench/internal/runs"
	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/rig/pinned"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type options struct {
	out, publish, from, command string
	contenders, faults          []string
	work, lease, renew, retry   time.Duration
	grace                       time.Duration
	scale                       float64
}

func parseFlags() (options, error) {
	var o options
	var contenders, faults string
	flag.StringVar(&o.out, "out", "bench/results", "folder for the results; each run makes a subfolder named after its start time")
	flag.StringVar(&o.publish, "publish", "", "also write comparison.md and comparison.svg into this folder (docs)")
	flag.StringVar(&o.from, "from", "", "draw the table and the picture again from this results.json, running nothing")
	flag.StringVar(&o.command, "command", "make bench", "the command the page names as the one that produced it")
	flag.StringVar(&contenders, "contenders", "", "comma-separated contenders to run (default all): "+ids())
	flag.StringVar(&faults, "faults", "", "comma-separated faults to apply (default all, in order): steady,sigterm,sigkill,sigstop,rollout,partition")
	flag.DurationVar(&o.work, "work", 200*time.Millisecond, "how long one run of the job takes")
	flag.DurationVar(&o.lease, "lease-duration", 15*time.Second, "lease duration of every Lease-based contender")
	flag.DurationVar(&o.renew, "renew-deadline", 10*time.Second, "renew deadline")
	flag.DurationVar(&o.retry, "retry-period", 2*time.Second, "retry period")
	flag.DurationVar(&o.grace, "grace", 30*time.Second, "termination grace period before SIGKILL")
	flag.Float64Var(&o.scale, "scale", 1, "stretch (or shrink, below 1) each segment's fixed part")
	flag.Parse()
	if flag.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", flag.Arg(0))
	}
	o.contenders, o.faults = list(contenders), list(faults)
	for _, c := range o.contenders {
		if !slices.ContainsFunc(arena.Contenders(), func(x *arena.Contender) bool { return x.ID == c }) {
			return o, fmt.Errorf("-contenders: unknown contender %q; known: %s", c, ids())
		}
	}
	return o, nil
}

func ids() string {
	var s []string
	for _, c := range arena.Contenders() {
		s = append(s, c.ID)
	}
	return strings.Join(s, ",")
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run() error {
	o, err := parseFlags()
	if err != nil {
		return err
	}
	if o.from != "" {
		r, err := report.Load(o.from)
		if err != nil {
			return err
		}
		// The figures are counted again from the runs, by this version of
		// the counting.
		for _, c := range r.Entries {
			for i := range c.Segments {
				s := &c.Segments[i]
				s.Figures = runs.Compute(c.Runs, arena.Job, s.Window, arena.Period, s.Events)
			}
		}
		return write(r, filepath.Dir(o.from), o.publish)
	}
	root, err := pinned.Root()
	if err != nil {
		return fmt.Errorf("run it inside the repository: %w", err)
	}
	started := time.Now()
	dir := filepath.Join(o.out, started.UTC().Format("20060102-150405"))
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	logf("results in %s", dir)

	logf("building the contender program and leaderjob-elector")
	contender, elector, err := arena.Build(root, filepath.Join(dir, "bin"))
	if err != nil {
		return err
	}
	logf("starting etcd and kube-apiserver on loopback")
	cp, err := controlplane.Start()
	if err != nil {
		return fmt.Errorf("%w; %s", err, controlplane.Hint)
	}
	defer cp.Stop()
	redis, _ := exec.LookPath("redis-server")
	if redis == "" {
		logf("redis-server not found: the Redis contender will be reported as not available (hack/bench-deps.sh installs it)")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sched := arena.Schedule{Timings: arena.Timings{Lease: o.lease, Renew: o.renew, Retry: o.retry}, Grace: o.grace, Scale: o.scale}
	b := &arena.Bench{
		ContenderBin: contender, ElectorBin: elector, LibraryDir: root,
		ControlPlane: cp, RedisServer: redis, Schedule: sched, Work: o.work, Dir: dir, Logf: logf,
	}
	faults := selectFaults(arena.Faults(sched), o.faults)
	res := &report.Result{
		Started: started, Command: o.command, Machine: b.Machine(ctx),
		Settings: report.Settings{
			Job: arena.Job, Spec: arena.Spec, Period: report.Duration(arena.Period), Work: report.Duration(o.work),
			Replicas: arena.Replicas, Timings: sched.Timings.String(), Phase: report.Duration(arena.Phase), Grace: report.Duration(o.grace),
		},
	}
	for _, f := range faults {
		res.Faults = append(res.Faults, report.Fault{ID: f.ID, Label: f.Label, What: f.What})
	}
	for _, c := range arena.Contenders() {
		if len(o.contenders) > 0 && !slices.Contains(o.contenders, c.ID) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		logf("%s: %s", c.ID, c.Label)
		rc := b.Run(ctx, c, faults)
		if rc.Status != report.StatusOK {
			logf("%s: %s: %s", c.ID, rc.Status, rc.Detail)
		}
		res.Entries = append(res.Entries, rc)
		res.Took = report.Duration(time.Since(started))
		if err := res.Save(filepath.Join(dir, "results.json")); err != nil {
			return err
		}
	}
	if err := write(res, dir, o.publish); err != nil {
		return err
	}
	logf("done in %v: %s", time.Since(started).Round(time.Second), filepath.Join(dir, "comparison.md"))
	return ctx.Err()
}

// selectFaults keeps the faults named in ids (all if none), in their
// order.
func selectFaults(all []arena.Fault, ids []string) []arena.Fault {
	if len(ids) == 0 {
		return all
	}
	var out []arena.Fault
	for _, f := range all {
		if slices.Contains(ids, f.ID) {
			out = append(out, f)
		}
	}
	return out
}

// write renders r into dir (comparison.md, timeline.svg) and, when
// publish is set, into publish (comparison.md, comparison.svg).
func write(r *report.Result, dir, publish string) error {
	targets := [][3]string{{dir, "comparison.md", "timeline.svg"}}
	if publish != "" {
		targets = append(targets, [3]string{publish, "comparison.md", "comparison.svg"})
	}
	for _, t := range targets {
		if err := render(r, t[0], t[1], t[2]); err != nil {
			return err
		}
	}
	return nil
}

func render(r *report.Result, dir, page, picture string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	md, err := os.Create(filepath.Join(dir, page))
	if err != nil {
		return err
	}
	if err := report.Markdown(md, r, picture); err != nil {
		_ = md.Close()
		return err
	}
	if err := md.Close(); err != nil {
		return err
	}
	svg, err := os.Create(filepath.Join(dir, picture))
	if err != nil {
		return err
	}
	if err := report.SVG(svg, r); err != nil {
		_ = svg.Close()
		return err
	}
	return svg.Close()
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}
