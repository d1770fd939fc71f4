package e2e

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spreadCrashBound is how soon after a replica is killed each of its jobs
// must run on another: its membership record is refreshed every retry
// period, so it lapses at most a lease duration after the kill; the others
// notice within 2.2 retry periods (a jittered retry tick); the job's next
// fire comes within a second (a missed one is caught up at once); 200 ms
// for the claim in the ledger.
const spreadCrashBound = leaseDuration + 22*retryPeriod/10 + time.Second + 200*time.Millisecond

// spreadTermBound is how soon after SIGTERM each of the stopping replica's
// jobs must run on another: the replica drains (20 ms of work) and leaves
// the membership at once; the others notice within 2.2 retry periods at
// worst, then the next fire (or the catch-up of a missed one) within a
// second, and 200 ms for the claim.
const spreadTermBound = 22*retryPeriod/10 + time.Second + 200*time.Millisecond

// spreadTimings are the lease timings of the spread-mode test's processes.
var spreadTimings = timings{leaseDuration, renewDeadline, retryPeriod}

// Spread mode (LEADERJOB_SPREAD=on) with three processes of spreadload on a
// real apiserver, 30 per-second cron jobs of 20 ms each, catch-up all:1m
// and a ledger over twelve ConfigMaps (two or three jobs each, so that an
// object's jobs can go whole to one owner within the share bound). In
// steady state each replica runs a
// share of the jobs no larger than max(⌈J/N⌉, 1.5·J/N), the share its
// leaderjob_owned_jobs gauge reports, and ownership does not move. One
// replica is killed (SIGKILL): each of its jobs runs on another within the
// lease duration, 2.2 retry periods and a fire period. A new replica joins
// (3 → 2 → 3), another is stopped (SIGTERM: its jobs move as soon as it
// has drained), and a last one joins. Over the whole run, counted from the
// jobs' own records: every fire from the first steady second to the end
// ran exactly once across the fleet (0 lost, 0 doubled), and no two runs
// of one job overlapped in time, on one process or across processes. A
// fire a replica skipped as already_running while a run of the job was
// going is not lost (the job never overlaps itself); one skipped so while
// no run of it was going (the job held by another fire's claim or
// completion) is.
func TestSpreadSharesTheWork(t *testing.T) {
	t.Parallel()
	const jobs = 30
	c := newCluster(t, "spread")
	f := newFleet(t, c, jobs, append(spreadTimings.env(), "LEADERJOB_CATCH_UP=all:1m", "LEADERJOB_LEDGER_SHARDS=12")...)
	a, b, cc := f.start("spread-a", ""), f.start("spread-b", ""), f.start("spread-c", "")

	from := f.settle([]*loadProc{a, b, cc}, 45*time.Second)
	defer f.verdict(t, from, a.name)
	time.Sleep(5 * time.Second)
	checkShares(t, f, []*loadProc{a, b, cc}, from.Unix(), time.Now().Unix()-1)

	// A replica dies: its jobs run elsewhere once its record lapses.
	at := midSecond()
	owned := jobsOf(owners(f.snapshot(), at), a.name)
	if len(owned) == 0 {
		t.Fatalf("%s owns no job", a.name)
	}
	killed := a.signal(t, syscall.SIGKILL)
	a.waitExit(t, 5*time.Second)
	took := f.moved(a.name, owned, killed, spreadCrashBound+5*time.Second)
	t.Logf("SIGKILL %s: its %d jobs ran elsewhere after %s (bound %v)", a.name, len(owned), durStats(took), spreadCrashBound)
	if slices.Max(took) > spreadCrashBound {
		t.Errorf("a job of the killed %s ran elsewhere %v after the kill, want within %v", a.name, slices.Max(took).Round(time.Millisecond), spreadCrashBound)
	}
	f.settle([]*loadProc{b, cc}, 20*time.Second)

	// A replica joins (3 → 2 → 3), then another stops (SIGTERM).
	d := f.start("spread-d", "")
	f.settle([]*loadProc{b, cc, d}, 30*time.Second)
	owned = jobsOf(owners(f.snapshot(), time.Now()), b.name)
	if len(owned) == 0 {
		t.Fatalf("%s owns no job", b.name)
	}
	termed := b.signal(t, syscall.SIGTERM)
	took = f.moved(b.name, owned, termed, spreadTermBound+5*time.Second)
	b.waitExit(t, 30*time.Second)
	t.Logf("SIGTERM %s: its %d jobs ran elsewhere after %s (bound %v)", b.name, len(owned), durStats(took), spreadTermBound)
	if slices.Max(took) > spreadTermBound {
		t.Errorf("a job of the stopped %s ran elsewhere %v after SIGTERM, want within %v", b.name, slices.Max(took).Round(time.Millisecond), spreadTermBound)
	}
	f.settle([]*loadProc{cc, d}, 20*time.Second)

	e := f.start("spread-e", "")
	last := f.settle([]*loadProc{cc, d, e}, 30*time.Second)
	time.Sleep(4 * time.Second)
	checkShares(t, f, []*loadProc{cc, d, e}, last.Unix(), time.Now().Unix()-1)
}

// verdict counts every fire of every job from `from` to two seconds ago
// (every fire up to then has run and been logged), logs the count and fails
// the test on a lost or doubled fire and on runs that overlap; killed names
// the replicas that were killed, whose runs may be re-run (see tally).
// Deferred, it judges what a test that stopped early ran so far.
func (f *fleet) verdict(t *testing.T, from time.Time, killed ...string) {
	end := time.Now().Unix() - 2
	runs := f.snapshot()
	f.mu.Lock()
	busy := maps.Clone(f.busy)
	moves, skips := len(f.moves), fmt.Sprint(f.skips)
	f.mu.Unlock()
	ft := tally(runs, busy, from.Unix(), end, killed...)
	ov := overlaps(runs)
	if f.logs != "" {
		if err := os.WriteFile(filepath.Join(f.logs, "lost.txt"), []byte(strings.Join(ft.lost, "\n")+"\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d jobs, fires from %s to %s: %d; %d lost (%d of them skipped as already_running while no run of the job was going), %d skipped as already_running while a run of the job was going, %d doubled, %d re-run after a cut-short or killed run, %d run by catch-up; %d overlapping runs; %d ownership moves logged; skips logged: %s",
		f.jobs, from.UTC().Format(time.TimeOnly), time.Unix(end, 0).UTC().Format(time.TimeOnly), ft.fires, len(ft.lost), ft.held, ft.busy, len(ft.doubled),
		len(ft.reruns), ft.catchUps, len(ov), moves, skips)
	for _, r := range first(ft.reruns, 20) {
		t.Logf("re-run: %s", r)
	}
	ft.check(t)
	for _, o := range first(ov, 20) {
		t.Errorf("runs overlap: %s", o)
	}
}

// check fails the test on lost and doubled fires; of the lost ones it
// shows one of each second, with the runs of its job around it.
func (ft fireTally) check(t *testing.T) {
	t.Helper()
	if len(ft.lost) > 0 {
		t.Errorf("%d fires lost; by scheduled second: %s", len(ft.lost), ft.lostSeconds())
	}
	for _, l := range first(ft.samples, 20) {
		t.Logf("fire never ran: %s", l)
	}
	for _, d := range first(ft.doubled, 20) {
		t.Errorf("fire ran more than once: %s", d)
	}
	if len(ft.doubled) > 20 {
		t.Errorf("%d fires doubled in all", len(ft.doubled))
	}
}

func first[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// checkShares checks the shares of live over the fires scheduled in
// [from, to]: no job ran on two replicas, none on a replica not live, the
// largest share within the bound, and each replica's
// leaderjob_owned_jobs gauge equal to the jobs it ran.
func checkShares(t *testing.T, f *fleet, live []*loadProc, from, to int64) map[string]int {
	t.Helper()
	share, moved := shares(f.snapshot(), from, to)
	bound := shareBound(f.jobs, len(live))
	t.Logf("steady %ds: shares %v (bound %d of %d jobs over %d replicas)", to-from+1, share, bound, f.jobs, len(live))
	for _, m := range first(moved, 10) {
		t.Errorf("a job ran on more than one replica in steady state: %s", m)
	}
	for who := range share {
		if !slices.Contains(names(live), who) {
			t.Errorf("%s, not live, ran jobs in steady state (shares %v)", who, share)
		}
	}
	for _, p := range live {
		n := share[p.name]
		if n > bound {
			t.Errorf("%s ran %d of %d jobs, want at most %d", p.name, n, f.jobs, bound)
		}
		g, err := ownedGauge(p.addr)
		if err != nil {
			t.Errorf("%s: %v", p.name, err)
		} else if g != n {
			t.Errorf("%s: leaderjob_owned_jobs %d, but it ran %d jobs", p.name, g, n)
		}
	}
	return share
}

// ownedGauge reads leaderjob_owned_jobs from a replica's /metrics.
func ownedGauge(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if name, value, ok := strings.Cut(strings.TrimSpace(line), " "); ok && (name == "leaderjob_owned_jobs" || strings.HasPrefix(name, "leaderjob_owned_jobs{")) {
			v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
			return int(v), err
		}
	}
	return 0, errors.New("no leaderjob_owned_jobs on /metrics")
}

// durStats describes durations: median and max.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("p50 %v, max %v (n=%d)", r(s[len(s)/2]), r(s[len(s)-1]), len(s))
}

// TestSpreadMeasure measures spread mode with the workload: three
// spreadload processes on the real apiserver, 300 per-second cron jobs of
// 20 ms each, catch-up all:1m, the default lease timings (15s/10s/2s) and
// a ledger over 16 ConfigMaps (300 full job records do not fit in fewer
// than 6). Each process reaches the apiserver through a counting proxy of
// its own (apiCounter), which sees every request its clients send. After a
// steady minute it kills one replica (SIGKILL), starts a new one, stops
// another (SIGTERM) and starts a last one (3 → 2 → 3 → 2 → 3), and reports
// the share of each replica, the fires lost and doubled and the
// overlapping runs over the whole run, how long the killed and the stopped
// replicas' jobs took to run elsewhere, the apiserver requests per replica
// per minute by kind, the ConfigMap requests per second against the
// ledger client's limit (5 per second, burst 10), and how late the runs
// began after their fire (the claim included). A phase after which the
// fleet does not settle, or whose moved jobs do not run elsewhere within
// their bound, fails the measurement, which goes on so that its report is
// whole. It runs only when LEADERJOB_MEASURE=1:
//
//	LEADERJOB_MEASURE=1 KUBEBUILDER_ASSETS=$(hack/controlplane.sh) \
//	  go test -v -count=1 -timeout 30m -run TestSpreadMeasure ./internal/rig/e2e
//
// LEADERJOB_MEASURE_STEADY sets the steady window (default 1m),
// LEADERJOB_MEASURE_JOBS the jobs (default 300),
// LEADERJOB_MEASURE_SHARDS the ledger's ConfigMaps (default 16),
// LEADERJOB_MEASURE_LOG_LEVEL the processes' log level (default info) and
// LEADERJOB_MEASURE_LOGS a directory where each process's whole output and
// the list of lost fires (lost.txt) are written.
func TestSpreadMeasure(t *testing.T) {
	if os.Getenv("LEADERJOB_MEASURE") != "1" {
		t.Skip("a measurement, not a test: set LEADERJOB_MEASURE=1 to run it")
	}
	steadyFor, jobs, shards := time.Minute, 300, 16
	if v, err := time.ParseDuration(os.Getenv("LEADERJOB_MEASURE_STEADY")); err == nil && v > 0 {
		steadyFor = v
	}
	if v, err := strconv.Atoi(os.Getenv("LEADERJOB_MEASURE_JOBS")); err == nil && v > 0 {
		jobs = v
	}
	if v, err := strconv.Atoi(os.Getenv("LEADERJOB_MEASURE_SHARDS")); err == nil && v > 0 {
		shards = v
	}
	tm := timings{15 * time.Second, 10 * time.Second, 2 * time.Second}
	crashBound := tm.lease + 22*tm.retry/10 + time.Second + 200*time.Millisecond
	termBound := 22*tm.retry/10 + time.Second + 200*time.Millisecond

	c := newCluster(t, "spreadm")
	env := append(tm.env(), "LEADERJOB_CATCH_UP=all:1m", "LEADERJOB_LEDGER_SHARDS="+strconv.Itoa(shards))
	if v := os.Getenv("LEADERJOB_MEASURE_LOG_LEVEL"); v != "" {
		env = append(env, "LEADERJOB_LOG_LEVEL="+v)
	}
	f := newFleet(t, c, jobs, env...)
	f.quiet = 3 * tm.retry
	f.logs = os.Getenv("LEADERJOB_MEASURE_LOGS")
	counters := map[string]*apiCounter{}
	start := func(name string) *loadProc {
		ac := newAPICounter(t, c.namespace)
		counters[name] = ac
		return f.start(name, ac.kubeconfig)
	}
	// settle waits for a steady fleet; one that does not settle is
	// reported, and measured all the same.
	var report []string
	settle := func(what string, live []*loadProc, since time.Time) time.Time {
		at, err := f.trySettle(live, 2*time.Minute)
		if err != nil {
			t.Errorf("%s: the jobs did not spread over %v: %v", what, names(live), err)
			report = append(report, fmt.Sprintf("%s: not steady after %v: %v", what, at.Sub(since).Round(time.Second), err))
		} else {
			report = append(report, fmt.Sprintf("%s: steady over %v %v after it", what, names(live), at.Sub(since).Round(time.Millisecond)))
		}
		return at
	}
	// moved reports how soon the jobs of a replica that went ran elsewhere.
	type fault struct {
		what string
		jobs []int
		at   time.Time
	}
	var faults []fault
	moved := func(how string, sig syscall.Signal, p *loadProc, at time.Time, bound time.Duration) {
		owned := jobsOf(owners(f.snapshot(), at), p.name)
		sent := p.signal(t, sig)
		faults = append(faults, fault{how + " " + p.name, owned, sent})
		took, missing := f.tryMoved(p.name, owned, sent, bound+30*time.Second)
		report = append(report, fmt.Sprintf("%s %s: of its %d jobs, %d ran elsewhere after %s (bound %v); %d did not within %v",
			how, p.name, len(owned), len(took), durStats(took), bound, len(missing), bound+30*time.Second))
		if len(missing) > 0 || len(took) > 0 && slices.Max(took) > bound {
			t.Errorf("%s %s: its jobs did not all run elsewhere within %v", how, p.name, bound)
		}
		p.waitExit(t, 30*time.Second)
	}

	began := time.Now()
	a, b, cc := start("spreadm-a"), start("spreadm-b"), start("spreadm-c")
	live := []*loadProc{a, b, cc}
	from := settle("3 replicas started", live, began)
	report = append([]string{fmt.Sprintf("%d jobs every second, %v of work each; 3 replicas; lease %v; ledger over %d ConfigMaps; catch-up all:1m",
		jobs, 20*time.Millisecond, tm, shards)}, report...)
	// The report, also when the measurement stops early.
	defer func() {
		for _, l := range report {
			t.Log(l)
		}
		for _, name := range slices.Sorted(maps.Keys(counters)) {
			t.Logf("responses to %s: %v", name, counters[name].statuses())
		}
		runs := f.snapshot()
		for i, fl := range faults {
			until := time.Now()
			if i+1 < len(faults) {
				until = faults[i+1].at
			}
			n, last := caughtUp(runs, fl.jobs, fl.at, until)
			t.Logf("%s: its jobs' missed fires run by catch-up: %d, the last begun %v after the fault", fl.what, n, last.Round(time.Millisecond))
		}
		f.verdict(t, from, a.name)
	}()

	before := map[string]map[string]int{}
	for _, p := range live {
		before[p.name] = counters[p.name].counts()
	}
	time.Sleep(steadyFor)
	to := time.Now().Truncate(time.Second)
	window := to.Sub(from)
	runs := f.snapshot()
	share := checkShares(t, f, live, from.Unix(), to.Unix()-1)
	f.mu.Lock()
	busy := maps.Clone(f.busy)
	f.mu.Unlock()
	st := tally(runs, busy, from.Unix(), to.Unix()-1)
	report = append(report, fmt.Sprintf("steady state (%v): share bound %d; fires %d, %d lost (%d skipped as already_running while no run of the job was going), %d skipped as already_running while a run of the job was going, %d doubled",
		window, shareBound(jobs, 3), st.fires, len(st.lost), st.held, st.busy, len(st.doubled)))
	for _, p := range live {
		ac := counters[p.name]
		pm := ac.perMinute(before[p.name], window)
		med, most := ac.ledgerRate(from.Unix(), to.Unix()-1)
		report = append(report, fmt.Sprintf("  %s: %d jobs; %.0f apiserver requests/min (%s); ConfigMap requests per second: median %d, max %d",
			p.name, share[p.name], pm["all"], kinds(pm), med, most))
	}
	late := lateness(runs, from.Unix(), to.Unix()-1)
	report = append(report, fmt.Sprintf("  runs' start after their fire (the claim included), %d scheduled runs: %s", len(late), percentiles(late)))

	// SIGKILL, a join, SIGTERM, a join.
	moved("SIGKILL", syscall.SIGKILL, a, midSecond(), crashBound)
	settle("after SIGKILL", []*loadProc{b, cc}, time.Now())
	joined := time.Now()
	d := start("spreadm-d")
	settle(d.name+" joined", []*loadProc{b, cc, d}, joined)
	moved("SIGTERM", syscall.SIGTERM, b, time.Now(), termBound)
	settle("after SIGTERM", []*loadProc{cc, d}, time.Now())
	joined = time.Now()
	e := start("spreadm-e")
	last := settle(e.name+" joined", []*loadProc{cc, d, e}, joined)
	time.Sleep(15 * time.Second)
	share = checkShares(t, f, []*loadProc{cc, d, e}, last.Unix(), time.Now().Unix()-1)
	report = append(report, fmt.Sprintf("after the joins: shares %v", share))
}

// caughtUp counts the catch-up runs of jobs' fires due from a second
// before at on that began before until, and how long after at the last of
// them began.
func caughtUp(runs [][]run, jobs []int, at, until time.Time) (n int, last time.Duration) {
	for _, j := range jobs {
		for _, r := range runs[j] {
			if r.catchUp && r.at >= at.Unix()-1 && r.start.After(at) && r.start.Before(until) {
				n++
				last = max(last, r.start.Sub(at))
			}
		}
	}
	return n, last
}

// kinds lists requests per minute by kind, largest first.
func kinds(pm map[string]float64) string {
	var ks []string
	for k := range pm {
		if k != "all" {
			ks = append(ks, k)
		}
	}
	slices.SortFunc(ks, func(a, b string) int { return cmp.Compare(pm[b], pm[a]) })
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %.1f", k, pm[k]))
	}
	return strings.Join(parts, ", ")
}

// percentiles describes durations: p50, p99 and max.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", r(s[len(s)/2]), r(s[len(s)*99/100]), r(s[len(s)-1]))
}
