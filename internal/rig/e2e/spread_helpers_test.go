package e2e

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The spread-mode tests run internal/rig/cmd/spreadload, a fleet of
// per-second cron jobs, and follow each run from the jobs' own "work"
// records (when each run's function was entered and left).

// buildSpreadload builds internal/rig/cmd/spreadload for one test.
func buildSpreadload(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spreadload")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/leaderjob/leaderjob/internal/rig/cmd/spreadload").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./internal/rig/cmd/spreadload: %v\n%s", err, out)
	}
	return bin
}

// loadRecord is one JSON record of spreadload: leaderjob's and the jobs'.
type loadRecord struct {
	Time        time.Time `json:"time"`
	Level       string    `json:"level"`
	Msg         string    `json:"msg"`
	Job         string    `json:"job"`
	Outcome     string    `json:"outcome"`
	Reason      string    `json:"reason"`
	ScheduledAt time.Time `json:"scheduled_at"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	CatchUp     bool      `json:"catch_up"`
	CutShort    bool      `json:"cut_short"`
	Duration    int64     `json:"duration"` // a "job run" record's: how long the job's function ran, in ns
	Previous    string    `json:"previous"`
	Owner       string    `json:"owner"`
}

// run is one run of a job that called it, from its "work" record (its end
// from leaderjob's "job run" record, when that is later: fleet.ended).
type run struct {
	proc       string
	job        int   // the job's number: j007 is 7
	at         int64 // the fire's scheduled time, Unix seconds
	start, end time.Time
	catchUp    bool
	cutShort   bool
}

func (r run) String() string {
	return fmt.Sprintf("j%03d@%s on %s %s–%s catch_up=%v cut_short=%v", r.job, time.Unix(r.at, 0).UTC().Format(time.TimeOnly),
		r.proc, r.start.Format("15:04:05.000"), r.end.Format("15:04:05.000"), r.catchUp, r.cutShort)
}

// ownerMove is a "job owner changed" record: the replica that logged it
// gained the job.
type ownerMove struct {
	at                   time.Time
	job, previous, owner string
}

// fleet is a set of spreadload processes on one Lease and ledger, and
// every run any of them logged.
type fleet struct {
	t    *testing.T
	c    cluster
	bin  string
	jobs int
	env  []string
	// quiet is how long no ownership may have moved for the fleet to be
	// steady (default 2s): a few retry periods, so that a membership
	// change others see a period apart is not taken for the end of one.
	quiet time.Duration

	mu    sync.Mutex
	runs  [][]run // by job, in the order they were logged
	moves []ownerMove
	skips map[string]int // skipped attempts logged (info and above), by reason
	// busy holds the fires (job, Unix second) a replica skipped as
	// already_running, with when it logged the first such skip (see
	// tally).
	busy  map[[2]int64]time.Time
	procs []*loadProc
	// logs, when not empty, is a directory where each process's whole
	// output is written, one file per process (LEADERJOB_MEASURE_LOGS).
	logs string
}

// loadProc is one spreadload process. Its routine records (runs, the
// start-up list of jobs) are kept by the fleet only; the others are kept
// here for the log of a failed test.
type loadProc struct {
	*process
	name string
	addr string // its operations listener

	mu       sync.Mutex
	notable  []string
	dropped  int
	lastWork time.Time
}

// maxNotable bounds the records a process keeps for a failure's log.
const maxNotable = 3000

// newFleet builds spreadload for a fleet of processes with jobs jobs and
// the environment env on c.
func newFleet(t *testing.T, c cluster, jobs int, env ...string) *fleet {
	t.Helper()
	return &fleet{t: t, c: c, bin: buildSpreadload(t), jobs: jobs, env: env, runs: make([][]run, jobs), skips: map[string]int{}, busy: map[[2]int64]time.Time{}}
}

// start starts spreadload as pod name on the fleet's Lease, through the
// kubeconfig given ("" for the cluster's), with its operations listener on
// a free loopback port.
func (f *fleet) start(name, kubeconfig string, extraEnv ...string) *loadProc {
	f.t.Helper()
	if kubeconfig == "" {
		kubeconfig = f.c.kubeconfig
	}
	p := &loadProc{name: name, addr: freeAddr(f.t)}
	cmd := exec.Command(f.bin)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"POD_NAME=" + name,
		"KUBECONFIG=" + kubeconfig,
		"LEADERJOB_GUARD=lease",
		"LEADERJOB_SPREAD=on",
		"LEADERJOB_LEASE_NAMESPACE=" + f.c.namespace,
		"LEADERJOB_LEASE_NAME=" + f.c.lease,
		"LEADERJOB_LOG_FORMAT=json",
		"LEADERJOB_LOG_LEVEL=info",
		"LEADERJOB_HTTP_ADDR=" + p.addr,
		"SPREADLOAD_JOBS=" + strconv.Itoa(f.jobs),
	}, append(slices.Clone(f.env), extraEnv...)...)
	each := func(line string) { f.add(p, line) }
	if f.logs != "" {
		out, err := os.Create(filepath.Join(f.logs, name+".log"))
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { out.Close() })
		each = func(line string) { fmt.Fprintln(out, line); f.add(p, line) }
	}
	p.process = startProcess(f.t, name, cmd, each, p.log)
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	return p
}

func (f *fleet) add(p *loadProc, line string) {
	var r loadRecord
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &r) != nil {
		p.note(line)
		return
	}
	switch {
	case r.Msg == "work":
		n, err := strconv.Atoi(strings.TrimPrefix(r.Job, "j"))
		if err != nil || n < 0 || n >= f.jobs {
			p.note(line)
			return
		}
		f.mu.Lock()
		f.runs[n] = append(f.runs[n], run{proc: p.name, job: n, at: r.ScheduledAt.Unix(), start: r.Start, end: r.End,
			catchUp: r.CatchUp, cutShort: r.CutShort})
		f.mu.Unlock()
		p.mu.Lock()
		p.lastWork = r.Time
		p.mu.Unlock()
		return
	case r.Msg == "job run" && r.Outcome == "ran":
		f.ended(p.name, r)
		return
	case r.Msg == "job scheduled":
		return
	case r.Msg == "job run" && r.Outcome == "skipped":
		f.mu.Lock()
		f.skips[r.Reason]++
		if n, err := strconv.Atoi(strings.TrimPrefix(r.Job, "j")); err == nil && r.Reason == "already_running" {
			k := [2]int64{int64(n), r.ScheduledAt.Unix()}
			if at, seen := f.busy[k]; !seen || r.Time.Before(at) {
				f.busy[k] = r.Time
			}
		}
		f.mu.Unlock()
	case r.Msg == "job owner changed":
		f.mu.Lock()
		f.moves = append(f.moves, ownerMove{r.Time, r.Job, r.Previous, r.Owner})
		f.mu.Unlock()
	}
	p.note(line)
}

// ended takes the end of a run from leaderjob's "job run" record of it:
// the job's function returns after its "work" record is written, and
// that write can take a while when the process is busy (a fire that comes
// meanwhile is skipped as already_running, rightly: the run still goes).
func (f *fleet) ended(proc string, r loadRecord) {
	n, err := strconv.Atoi(strings.TrimPrefix(r.Job, "j"))
	if err != nil || n < 0 || n >= f.jobs {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.runs[n]
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].proc == proc && rs[i].at == r.ScheduledAt.Unix() {
			if end := rs[i].start.Add(time.Duration(r.Duration)); end.After(rs[i].end) {
				rs[i].end = end
			}
			return
		}
	}
}

func (p *loadProc) note(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.notable) >= maxNotable {
		p.dropped++
		return
	}
	p.notable = append(p.notable, line)
}

// log is the process's output but its routine records.
func (p *loadProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := strings.Join(p.notable, "\n")
	if p.dropped > 0 {
		s += fmt.Sprintf("\n(%d more records not kept)", p.dropped)
	}
	return s
}

// snapshot returns a copy of every run so far, by job.
func (f *fleet) snapshot() [][]run {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]run, len(f.runs))
	for j, rs := range f.runs {
		out[j] = slices.Clone(rs)
	}
	return out
}

// movesSince returns the ownership moves logged after t.
func (f *fleet) movesSince(t time.Time) []ownerMove {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ownerMove
	for _, m := range f.moves {
		if m.at.After(t) {
			out = append(out, m)
		}
	}
	return out
}

func names(ps []*loadProc) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.name)
	}
	return out
}

// runners returns, for the fires scheduled from `from` to `to` (Unix
// seconds, inclusive), the replicas that ran each job.
func runners(runs [][]run, from, to int64) []map[string]int {
	out := make([]map[string]int, len(runs))
	for j, rs := range runs {
		out[j] = map[string]int{}
		for _, r := range rs {
			if r.at >= from && r.at <= to {
				out[j][r.proc]++
			}
		}
	}
	return out
}

// steady checks that the fleet is settled on live: each of the last two
// fires of every job ran exactly once, each live replica ran a share of
// them, none other did, and no ownership moved for f.quiet.
func (f *fleet) steady(live []*loadProc) error {
	if err := exited(live); err != nil {
		return err
	}
	now := time.Now()
	last := now.Unix() - 1 // a fire at least a second old has been run and logged
	quiet := cmp.Or(f.quiet, 2*time.Second)
	if moves := f.movesSince(now.Add(-quiet)); len(moves) > 0 {
		return fmt.Errorf("%d ownership moves in the last %v, e.g. %+v", len(moves), quiet, moves[0])
	}
	share := map[string]int{}
	var off []string // jobs whose last two fires did not run once each
	runs := f.snapshot()
	for j, by := range runners(runs, last-1, last) {
		n := 0
		for who, k := range by {
			n += k
			share[who]++
		}
		if n != 2 {
			off = append(off, fmt.Sprintf("j%03d %d×%v", j, n, by))
		}
	}
	if len(off) > 0 {
		recent, _ := shares(runs, last-9, last)
		return fmt.Errorf("%d of %d jobs did not run each of their last 2 fires once (%s); jobs run per replica in the last 10s: %v",
			len(off), f.jobs, strings.Join(first(off, 5), ", "), recent)
	}
	for _, p := range live {
		if share[p.name] == 0 {
			return fmt.Errorf("%s runs none of the jobs (replicas running them: %v; live: %v)", p.name, share, names(live))
		}
		delete(share, p.name)
	}
	if len(share) > 0 {
		return fmt.Errorf("replicas that are not live ran jobs: %v", share)
	}
	return nil
}

// owners returns, for each job, the replica that began the latest run of
// a fire scheduled at or before at (a run cut short does not count).
func owners(runs [][]run, at time.Time) []string {
	out := make([]string, len(runs))
	for j, rs := range runs {
		var latest time.Time
		for _, r := range rs {
			if r.at <= at.Unix() && !r.cutShort && r.start.After(latest) {
				out[j], latest = r.proc, r.start
			}
		}
	}
	return out
}

// shareBound is the bound on the largest share of jobs jobs over
// n replicas: max(⌈jobs/n⌉, 1.5·jobs/n).
func shareBound(jobs, n int) int {
	return max((jobs+n-1)/n, 3*jobs/(2*n))
}

// shares returns how many jobs each replica ran in the fires scheduled in
// [from, to] (Unix seconds), and the jobs that more than one replica ran
// in it (ownership moved within the window).
func shares(runs [][]run, from, to int64) (map[string]int, []string) {
	share := map[string]int{}
	var moved []string
	for j, by := range runners(runs, from, to) {
		for who := range by {
			share[who]++
		}
		if len(by) > 1 {
			moved = append(moved, fmt.Sprintf("j%03d %v", j, by))
		}
	}
	return share, moved
}

// moved returns, for each job of jobs, how long after at another replica
// than gone first entered it, once each has been (or the test fails after
// within).
func (f *fleet) moved(gone string, jobs []int, at time.Time, within time.Duration) []time.Duration {
	f.t.Helper()
	took, missing := f.tryMoved(gone, jobs, at, within)
	if len(missing) > 0 {
		f.t.Fatalf("not within %v: %d of %s's %d jobs ran elsewhere after %s (not yet: %v)", within,
			len(jobs)-len(missing), gone, len(jobs), at.Format(time.StampMilli), missing)
	}
	return took
}

// tryMoved is moved without the failure: it returns the durations of the
// jobs that did run elsewhere within within, and the jobs that did not.
func (f *fleet) tryMoved(gone string, jobs []int, at time.Time, within time.Duration) (took []time.Duration, missing []int) {
	waitFor(within, func() bool {
		runs := f.snapshot()
		took, missing = took[:0], missing[:0]
		for _, j := range jobs {
			var first time.Duration
			for _, r := range runs[j] {
				if r.proc != gone && r.start.After(at) && (first == 0 || r.start.Sub(at) < first) {
					first = r.start.Sub(at)
				}
			}
			if first == 0 {
				missing = append(missing, j)
			} else {
				took = append(took, first)
			}
		}
		return len(missing) == 0
	})
	return took, missing
}

// jobsOf returns the jobs whose owner is who.
func jobsOf(owner []string, who string) []int {
	var out []int
	for j, o := range owner {
		if o == who {
			out = append(out, j)
		}
	}
	return out
}

// fireTally is the count of the fires of every job scheduled in a window.
type fireTally struct {
	fires int
	lost  []string
	// lostAt counts the lost fires by scheduled second.
	lostAt map[int64]int
	// samples are lost fires with the runs of their job around them: the
	// first found of each second.
	samples []string
	// busy counts the fires no replica ran that one skipped as
	// already_running while a run of the job was going (the rule that a
	// job never overlaps itself, fleet-wide): handled on purpose, not
	// lost. held counts those, among the lost, that were skipped as
	// already_running while no run of the job was going: the job was held
	// by the claim or completion of another fire, not by a run.
	busy, held int
	doubled    []string
	reruns     []string // a fire run again after a run that was cut short or killed
	// catchUps counts the runs of missed fires.
	catchUps int
}

// tally counts every job's fires scheduled from `from` to `to` (Unix
// seconds, inclusive): a fire no replica ran is lost, unless a replica
// skipped it as already_running while a run of the job (its function,
// on any replica, a catch-up run too) was going between the fire's time
// and the skip (busy). One run more than once is doubled, unless every
// earlier run was cut short or ran on a replica in killed, and the later
// run was a catch-up on another replica: the ledger's documented
// at-least-once case (a claimed fire whose run died mid-way, or whose
// completion died with its process, is run again under the same key),
// counted as a re-run.
func tally(runs [][]run, busy map[[2]int64]time.Time, from, to int64, killed ...string) fireTally {
	t := fireTally{lostAt: map[int64]int{}}
	for j, rs := range runs {
		byFire := map[int64][]run{}
		for _, r := range rs {
			byFire[r.at] = append(byFire[r.at], r)
			if r.catchUp && r.at >= from && r.at <= to {
				t.catchUps++
			}
		}
		for at := from; at <= to; at++ {
			t.fires++
			fr := byFire[at]
			skipped, wasBusy := busy[[2]int64{int64(j), at}]
			switch {
			case len(fr) == 0 && wasBusy && runningBetween(rs, time.Unix(at, 0), skipped):
				t.busy++
			case len(fr) == 0:
				l := fmt.Sprintf("j%03d@%s", j, time.Unix(at, 0).UTC().Format(time.TimeOnly))
				if wasBusy {
					t.held++
					l += fmt.Sprintf(", skipped as already_running at %s while no run of the job was going", skipped.Format("15:04:05.000"))
				}
				if t.lostAt[at] == 0 && len(t.samples) < 40 {
					t.samples = append(t.samples, fmt.Sprintf("%s (the job's runs begun from 2s before to 3s after: %v)", l, around(rs, time.Unix(at, 0))))
				}
				t.lost = append(t.lost, l)
				t.lostAt[at]++
			case len(fr) > 1:
				if rerun(fr, killed) {
					t.reruns = append(t.reruns, fmt.Sprint(fr))
				} else {
					t.doubled = append(t.doubled, fmt.Sprint(fr))
				}
			}
		}
	}
	return t
}

// runningBetween reports whether one of rs was running (its function
// entered, not yet left) at some time from `from` to `to`.
func runningBetween(rs []run, from, to time.Time) bool {
	for _, r := range rs {
		if !r.start.After(to) && !r.end.Before(from) {
			return true
		}
	}
	return false
}

// lostSeconds describes when the lost fires were due: each second with
// lost fires and how many, consecutive seconds with as many run together.
func (t fireTally) lostSeconds() string {
	var parts []string
	secs := slices.Sorted(maps.Keys(t.lostAt))
	for i := 0; i < len(secs); {
		j := i
		for j+1 < len(secs) && secs[j+1] == secs[j]+1 && t.lostAt[secs[j+1]] == t.lostAt[secs[i]] {
			j++
		}
		at := time.Unix(secs[i], 0).UTC().Format(time.TimeOnly)
		if j > i {
			at += "–" + time.Unix(secs[j], 0).UTC().Format(time.TimeOnly)
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", at, t.lostAt[secs[i]]))
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// around returns the runs of rs begun from 2 s before t to 3 s after.
func around(rs []run, t time.Time) []run {
	var out []run
	for _, r := range rs {
		if r.start.After(t.Add(-2*time.Second)) && r.start.Before(t.Add(3*time.Second)) {
			out = append(out, r)
		}
	}
	return out
}

// rerun reports whether the runs of one fire are a re-run: each but the
// last was cut short or ran on a killed replica, and the last, a catch-up,
// ran on another replica than the one before it.
func rerun(fr []run, killed []string) bool {
	fr = slices.Clone(fr)
	slices.SortFunc(fr, func(a, b run) int { return a.start.Compare(b.start) })
	last := fr[len(fr)-1]
	for _, r := range fr[:len(fr)-1] {
		if !r.cutShort && !slices.Contains(killed, r.proc) {
			return false
		}
	}
	return last.catchUp && last.proc != fr[len(fr)-2].proc
}

// overlaps returns the pairs of runs of one job whose times overlap: a run
// that began before the previous run of the job, on any replica, ended.
func overlaps(runs [][]run) []string {
	var out []string
	for _, rs := range runs {
		rs = slices.Clone(rs)
		slices.SortFunc(rs, func(a, b run) int { return a.start.Compare(b.start) })
		for i := 1; i < len(rs); i++ {
			if rs[i].start.Before(rs[i-1].end) {
				out = append(out, fmt.Sprintf("%v and %v", rs[i-1], rs[i]))
			}
		}
	}
	return out
}

// lateness returns, for the scheduled (not catch-up) runs of fires in
// [from, to], how long after its scheduled time each run's function was
// entered: the scheduler's fire, the ownership check and the claim.
func lateness(runs [][]run, from, to int64) []time.Duration {
	var out []time.Duration
	for _, rs := range runs {
		for _, r := range rs {
			if !r.catchUp && r.at >= from && r.at <= to {
				out = append(out, r.start.Sub(time.Unix(r.at, 0)))
			}
		}
	}
	return out
}

// waitFor calls cond every 50 ms until it returns true or within has
// passed, and reports whether it did. (The conditions here scan every
// run, so they are polled less often than testutil's.)
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// errExited reports a process that has ended: waiting on it is over.
type errExited struct{ name string }

func (e errExited) Error() string { return e.name + " has exited" }

// exited returns an errExited for the first of ps that has exited.
func exited(ps []*loadProc) error {
	for _, p := range ps {
		select {
		case <-p.done:
			return errExited{p.name}
		default:
		}
	}
	return nil
}

// settle waits until the fleet is steady on live (see steady) and returns
// the first whole second from which it is.
func (f *fleet) settle(live []*loadProc, within time.Duration) time.Time {
	f.t.Helper()
	at, err := f.trySettle(live, within)
	if err != nil {
		f.t.Fatalf("not within %v: the jobs spread over %v: %v", within, names(live), err)
	}
	return at
}

// trySettle is settle without the failure: it returns why the fleet is not
// steady after within (and the time then), or nil once it is.
func (f *fleet) trySettle(live []*loadProc, within time.Duration) (time.Time, error) {
	var err error
	var gone errExited
	waitFor(within, func() bool { err = f.steady(live); return err == nil || errors.As(err, &gone) })
	return time.Now().Truncate(time.Second), err
}

// midSecond waits for the next half second: the per-second fires are
// run (20 ms) and completed by then, so that a replica killed then has no
// run in flight.
func midSecond() time.Time {
	next := time.Now().Truncate(time.Second).Add(1500 * time.Millisecond)
	if time.Until(next) > time.Second {
		next = next.Add(-time.Second)
	}
	time.Sleep(time.Until(next))
	return time.Now()
}

// apiCounter is a reverse proxy in front of the apiserver for one replica,
// which counts the requests the replica sends: its kubeconfig points at
// the proxy (plain HTTP on loopback), and the proxy forwards each request
// with the admin's credentials. Every request a replica's clients make
// passes through it: the Lease guard's, the membership's, the ledger's,
// the controls' and the Events'.
type apiCounter struct {
	kubeconfig string

	mu     sync.Mutex
	byKind map[string]int // "PUT configmaps", "WATCH leases", ...
	status map[string]int // by status code ("error" when no response)
	ledger map[int64]int  // ConfigMap requests by Unix second
}

// newAPICounter starts a counting proxy to the shared control plane and
// writes a kubeconfig for it with namespace ns.
func newAPICounter(t *testing.T, ns string) *apiCounter {
	t.Helper()
	cp := cp.Get(t)
	target, err := url.Parse(cp.Config().Host)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(cp.Config())
	if err != nil {
		t.Fatal(err)
	}
	a := &apiCounter{byKind: map[string]int{}, status: map[string]int{}, ledger: map[int64]int{}}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     transport,
		FlushInterval: -1, // watches stream
		ModifyResponse: func(resp *http.Response) error {
			a.count(resp.Request, strconv.Itoa(resp.StatusCode))
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.count(r, "error")
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	kc := clientcmdapi.NewConfig()
	kc.Clusters["proxy"] = &clientcmdapi.Cluster{Server: srv.URL}
	kc.AuthInfos["proxy"] = &clientcmdapi.AuthInfo{}
	kc.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "proxy", Namespace: ns}
	kc.CurrentContext = "proxy"
	a.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, a.kubeconfig); err != nil {
		t.Fatal(err)
	}
	return a
}

// count counts one request by its kind (verb and resource) and status.
func (a *apiCounter) count(r *http.Request, status string) {
	verb := r.Method
	if r.URL.Query().Get("watch") == "true" || strings.Contains(r.URL.Path, "/watch/") {
		verb = "WATCH"
	}
	resource := "other"
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			resource = parts[i+2]
			break
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byKind[verb+" "+resource]++
	a.status[status]++
	if resource == "configmaps" && verb != "WATCH" {
		a.ledger[time.Now().Unix()]++
	}
}

// counts returns the requests so far by kind.
func (a *apiCounter) counts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.byKind)
}

// perMinute returns the requests by kind, and in all ("all"), sent
// between the counts before and now, per minute of d.
func (a *apiCounter) perMinute(before map[string]int, d time.Duration) map[string]float64 {
	out := map[string]float64{}
	for kind, n := range a.counts() {
		if k := n - before[kind]; k > 0 {
			out[kind] = float64(k) / d.Minutes()
			out["all"] += float64(k) / d.Minutes()
		}
	}
	return out
}

// ledgerRate returns the median and the largest count of ConfigMap
// requests (the ledger's, and the controls' reads) in one second, over the
// seconds from `from` to `to`.
func (a *apiCounter) ledgerRate(from, to int64) (median, most int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var per []int
	for s := from; s <= to; s++ {
		per = append(per, a.ledger[s])
	}
	if len(per) == 0 {
		return 0, 0
	}
	slices.Sort(per)
	return per[len(per)/2], per[len(per)-1]
}

// statuses returns the responses so far by status code.
func (a *apiCounter) statuses() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.status)
}
