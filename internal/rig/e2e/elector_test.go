package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/sidecarclient"
)

// The elector tests run "pods" of two processes each: the leaderjob-elector
// command and the example program in sidecar mode asking it, with the
// daily-report job firing every second. The electors run as the service
// account of examples/kubernetes/sidecar, with that folder's Role.

const (
	electorManifests = "../../../examples/kubernetes/sidecar"
	electorSA        = "monolith-elector"
	electorLease     = "monolith-election" // the Role's resourceNames
	reportJob        = "daily-report"
)

var (
	electorOnce sync.Once
	electorBin  string
	electorErr  error
)

// elector builds cmd/leaderjob-elector once per test binary.
func elector(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(monolith(t)) // the build directory TestMain removes
	electorOnce.Do(func() {
		electorBin = filepath.Join(dir, "leaderjob-elector")
		out, err := exec.Command("go", "build", "-o", electorBin, "github.com/leaderjob/leaderjob/cmd/leaderjob-elector").CombinedOutput()
		if err != nil {
			electorErr = fmt.Errorf("go build ./cmd/leaderjob-elector: %w\n%s", err, out)
		}
	})
	if electorErr != nil {
		t.Fatal(electorErr)
	}
	return electorBin
}

// eproc is one elector process.
type eproc struct {
	*process
	name string
	url  string // its protocol address, http://127.0.0.1:<port>/
	ops  string // its operations address
	out  testutil.LogBuffer
}

func (e *eproc) log() string { return e.out.String() }

// pod is an elector and the app that asks it.
type pod struct {
	name    string
	elector *eproc
	app     *proc
}

func electorAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// electorCluster applies examples/kubernetes/sidecar in a new namespace and
// returns a kubeconfig of its service account.
func electorCluster(t *testing.T) cluster {
	t.Helper()
	c := cp.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := c.CreateNamespace(ctx, "elector-")
	if err != nil {
		t.Fatal(err)
	}
	apply(ctx, t, c.Config(), electorManifests, ns)
	sa, err := c.ServiceAccount(ctx, ns, electorSA)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := c.WriteKubeconfig(sa, ns)
	if err != nil {
		t.Fatal(err)
	}
	return cluster{kubeconfig: kc, namespace: ns, lease: electorLease}
}

// startElector starts the command as pod name and waits until it answers.
func startElector(t *testing.T, c cluster, name string, tm timings, extra ...string) *eproc {
	t.Helper()
	httpAddr, opsAddr := electorAddr(t), electorAddr(t)
	e := &eproc{name: name, url: "http://" + httpAddr + "/", ops: "http://" + opsAddr}
	args := append([]string{
		"--election=" + c.lease,
		"--election-namespace=" + c.namespace,
		"--id=" + name,
		"--http=" + httpAddr,
		"--ops-addr=" + opsAddr,
		"--kubeconfig=" + c.kubeconfig,
		"--lease-duration=" + tm.lease.String(),
		"--renew-deadline=" + tm.renew.String(),
		"--retry-period=" + tm.retry.String(),
		"--log-format=json",
	}, extra...)
	cmd := exec.Command(elector(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	e.process = startProcess(t, "elector "+name, cmd, func(line string) { e.out.Write([]byte(line + "\n")) }, e.log)
	testutil.EventuallyNoError(t, 10*time.Second, "elector "+name+" answers on "+e.url, func() error {
		resp, err := http.Get(e.url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return e
}

// answer asks the elector as a client of the original image would: GET,
// and read "name" from the JSON.
func (e *eproc) answer(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(e.url)
	if err != nil {
		t.Fatalf("elector %s: %v", e.name, err)
	}
	defer resp.Body.Close()
	var v struct {
		Name string `json:"name"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil {
		t.Fatalf("elector %s answered %s %q", e.name, resp.Status, body)
	}
	return v.Name
}

var electorTimings = timings{leaseDuration, renewDeadline, retryPeriod}

// startPod starts an elector and then the app asking it.
func startPod(t *testing.T, c cluster, name string, tm timings, extraEnv ...string) *pod {
	t.Helper()
	return startPodWith(t, c, name, tm, nil, extraEnv...)
}

// startPodWith starts a pod whose elector gets the extra flags args.
func startPodWith(t *testing.T, c cluster, name string, tm timings, args []string, extraEnv ...string) *pod {
	t.Helper()
	e := startElector(t, c, name, tm, args...)
	app := startProc(t, c, name, append([]string{
		"LEADERJOB_GUARD=sidecar",
		"LEADERJOB_SIDECAR_URL=" + e.url,
		"KUBECONFIG=",
		"DAILY_REPORT_CRON=* * * * * *",
		"DAILY_REPORT_ZONE=UTC",
		"HEARTBEAT_RATE=1h",
		"EXCHANGE_RATES_RATE=1h",
		"SESSION_CLEANUP_DELAY=1h",
		"SESSION_CLEANUP_INITIAL_DELAY=1h",
	}, extraEnv...)...)
	return &pod{name: name, elector: e, app: app}
}

// reports returns the daily-report runs of p that called the job.
func reports(p *proc) []record {
	var out []record
	for _, r := range p.snapshot() {
		if r.Msg == "job run" && r.Job == reportJob && r.Outcome == "ran" {
			out = append(out, r)
		}
	}
	return out
}

// reportLeader waits until one pod's app runs the report and returns it.
func reportLeader(t *testing.T, pods []*pod, within time.Duration) (*pod, *pod) {
	t.Helper()
	var leaders []*pod
	testutil.Eventually(t, within, "a single app runs "+reportJob, func() bool {
		since := time.Now().Add(-1500 * time.Millisecond)
		leaders = nil
		for _, p := range pods {
			if rs := reports(p.app); len(rs) > 0 && rs[len(rs)-1].ScheduledAt.After(since) {
				leaders = append(leaders, p)
			}
		}
		return len(leaders) == 1
	})
	if leaders[0] == pods[0] {
		return pods[0], pods[1]
	}
	return pods[1], pods[0]
}

// fires returns how many runs each scheduled second got across the pods,
// between from and to.
func fires(pods []*pod, from, to time.Time) map[time.Time]int {
	n := map[time.Time]int{}
	for _, p := range pods {
		for _, r := range reports(p.app) {
			if !r.ScheduledAt.Before(from) && !r.ScheduledAt.After(to) {
				n[r.ScheduledAt.UTC()]++
			}
		}
	}
	return n
}

// untilFraction sleeps until frac of the way into the next whole second.
func untilFraction(frac time.Duration) {
	now := time.Now()
	next := now.Truncate(time.Second).Add(time.Second + frac)
	time.Sleep(time.Until(next))
}

// Steady state, then a hand-off in native-sidecar order: the leader's app
// gets SIGTERM and exits; only then its elector gets SIGTERM and releases
// the Lease. The other app runs the next fire: within 1s of the app's
// SIGTERM, no fire twice, at most one fire lost.
func TestElectorSidecarHandOff(t *testing.T) {
	t.Parallel()
	c := electorCluster(t)
	pods := []*pod{startPod(t, c, "pod-a", electorTimings), startPod(t, c, "pod-b", electorTimings)}
	old, next := reportLeader(t, pods, 30*time.Second)

	// Steady state: exactly one run of every fire.
	from := time.Now().Truncate(time.Second).Add(time.Second)
	time.Sleep(4 * time.Second)
	to := time.Now().Truncate(time.Second).Add(-time.Second)
	got := fires(pods, from, to)
	for s := from; !s.After(to); s = s.Add(time.Second) {
		if got[s.UTC()] != 1 {
			t.Errorf("steady state: the fire of %s ran %d times, want once", s.Format(time.TimeOnly), got[s.UTC()])
		}
	}

	// A client that knows only {"name": ...} works unchanged.
	for _, p := range pods {
		if name := p.elector.answer(t); name != old.name {
			t.Errorf("elector %s answers %q, want %q", p.name, name, old.name)
		}
	}

	// Our client reads the added fields: fresh, and a lease expiry within
	// one lease duration, on the leader and on the standby alike.
	for _, p := range pods {
		sc, err := sidecarclient.New(p.elector.url)
		if err != nil {
			t.Fatal(err)
		}
		l, err := sc.Leader(context.Background())
		now := time.Now()
		switch {
		case err != nil:
			t.Errorf("elector %s: %v", p.name, err)
		case l.IsLeader != (p == old) || !l.HasEpoch || l.Self != p.name:
			t.Errorf("elector %s answered %+v", p.name, l)
		case now.Sub(l.LastUpdate) > renewDeadline || l.LastUpdate.After(now):
			t.Errorf("elector %s: last_update %v is not fresh", p.name, l.LastUpdate)
		case !l.LeaseExpires.After(now) || l.LeaseExpires.After(now.Add(leaseDuration)):
			t.Errorf("elector %s: lease_expires %v is not within the next %v", p.name, l.LeaseExpires, leaseDuration)
		}
	}

	untilFraction(200 * time.Millisecond) // just after a fire the old leader ran
	termed := old.app.signal(t, syscall.SIGTERM)
	old.app.waitExit(t, 10*time.Second)
	appExited := time.Now()
	old.elector.signal(t, syscall.SIGTERM)
	old.elector.waitExit(t, 10*time.Second)
	released := time.Now()

	first := awaitReportAfter(t, next, termed, 5*time.Second)
	took := first.started().Sub(termed)
	t.Logf("hand-off %s → %s: app SIGTERM → app exited %v, → elector exited %v, → %s's first run %v (fire %s)",
		old.name, next.name, appExited.Sub(termed).Round(time.Millisecond), released.Sub(termed).Round(time.Millisecond),
		next.name, took.Round(time.Millisecond), first.ScheduledAt.Format(time.TimeOnly))
	if took > time.Second {
		t.Errorf("%s's first run came %v after %s's app got SIGTERM, want within 1s", next.name, took, old.name)
	}
	if name := next.elector.answer(t); name != next.name {
		t.Errorf("elector %s answers %q after the hand-off, want itself", next.name, name)
	}
	time.Sleep(1500 * time.Millisecond)
	assertFiresOnce(t, pods, 1)
}

// awaitReportAfter waits for p's first run of the report scheduled after
// t0 and returns it.
func awaitReportAfter(t *testing.T, p *pod, t0 time.Time, within time.Duration) record {
	t.Helper()
	var first record
	testutil.Eventually(t, within, fmt.Sprintf("%s runs %s after %s", p.name, reportJob, t0.Format(time.TimeOnly)), func() bool {
		var ok bool
		first, ok = firstReportAfter(p.app, t0)
		return ok
	})
	return first
}

func firstReportAfter(p *proc, t0 time.Time) (record, bool) {
	for _, r := range reports(p) {
		if r.ScheduledAt.After(t0) {
			return r, true
		}
	}
	return record{}, false
}

// assertFiresOnce checks that no fire ran twice and that at most maxLost
// fires were lost between the first and the last run.
func assertFiresOnce(t *testing.T, pods []*pod, maxLost int) {
	t.Helper()
	var all []time.Time
	for _, p := range pods {
		for _, r := range reports(p.app) {
			all = append(all, r.ScheduledAt.UTC())
		}
	}
	slices.SortFunc(all, func(a, b time.Time) int { return a.Compare(b) })
	lost := 0
	for i := 1; i < len(all); i++ {
		switch gap := all[i].Sub(all[i-1]); {
		case gap == 0:
			t.Errorf("the fire of %s ran twice", all[i].Format(time.TimeOnly))
		case gap > time.Second:
			lost += int(gap/time.Second) - 1
		}
	}
	if lost > maxLost {
		t.Errorf("%d fires lost, want at most %d", lost, maxLost)
	}
}

// SIGKILL the leader's elector: its app stops running at once (it cannot
// ask), and the other pod takes over once the lease has expired.
func TestElectorCrashFailsClosed(t *testing.T) {
	t.Parallel()
	c := electorCluster(t)
	// exchange-rates runs once at start, on the leader, for 30s (its
	// timeout): a job running when the elector dies.
	slow := []string{"EXCHANGE_RATES_WORK=1h"}
	pods := []*pod{startPod(t, c, "pod-a", electorTimings, slow...), startPod(t, c, "pod-b", electorTimings, slow...)}
	old, next := reportLeader(t, pods, 30*time.Second)
	time.Sleep(time.Second)

	untilFraction(200 * time.Millisecond)
	killed := old.elector.signal(t, syscall.SIGKILL)
	old.elector.waitExit(t, 5*time.Second)
	bound := leaseDuration + 22*retryPeriod/10 + time.Second + 200*time.Millisecond
	first := awaitReportAfter(t, next, killed, bound+5*time.Second)
	took := first.started().Sub(killed)
	t.Logf("elector crash %s → %s's first run: %v (bound %v)", old.name, next.name, took.Round(time.Millisecond), bound)
	if took > bound {
		t.Errorf("%s took over %v after the kill, want within %v", next.name, took, bound)
	}
	if r, ok := firstReportAfter(old.app, killed); ok {
		t.Errorf("%s's app ran the fire of %s after its elector was killed", old.name, r.ScheduledAt.Format(time.TimeOnly))
	}
	var skipped bool
	for _, r := range old.app.snapshot() {
		skipped = skipped || (r.Job == reportJob && r.Reason == "unavailable" && r.Time.After(killed))
	}
	if !skipped {
		t.Errorf("%s's app logged no skipped run after its elector was killed", old.name)
	}
	assertFiresOnce(t, pods, int(bound/time.Second)+1)

	// The running exchange-rates job was cancelled when the stream broke.
	var ended *record
	for _, r := range old.app.snapshot() {
		if r.Msg == "job run" && r.Job == "exchange-rates" && r.Time.After(killed) {
			ended = &r
			break
		}
	}
	switch {
	case ended == nil:
		t.Errorf("%s's running exchange-rates job did not end after its elector was killed", old.name)
	case ended.Time.Sub(killed) > 500*time.Millisecond || !strings.Contains(ended.raw, "leadership lost"):
		t.Errorf("%s's running job ended %v after the kill: %s; want cancelled at once for lost leadership",
			old.name, ended.Time.Sub(killed), ended.raw)
	default:
		t.Logf("%s's running job was cancelled %v after its elector was killed: %s", old.name, ended.Time.Sub(killed).Round(time.Millisecond), ended.raw)
	}
}

// Bad flags: exit code 2 and a message naming the flag, before any request.
func TestElectorBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--election is required"},
		{[]string{"--election=x", "--ttl=banana"}, "-ttl"},
		{[]string{"--election=x", "--election-namespace=Not_A_Namespace"}, "--election-namespace"},
		{[]string{"--election=x", "--nonsense=1"}, "-nonsense"},
	} {
		cmd := exec.Command(elector(t), tc.args...)
		cmd.Env = []string{"POD_NAME=p"}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: %v, output %q; want exit status 2 naming %s", tc.args, err, out, tc.want)
		}
	}
}

// The apiserver goes away: both electors stop naming a leader within the
// renew deadline (and the apps stop running), and name one again after it
// is back. It has a control plane of its own.
func TestElectorAPIServerOutage(t *testing.T) {
	t.Parallel()
	own, err := controlplane.Start()
	if err != nil {
		controlplane.Unavailable(t, err)
	}
	t.Cleanup(func() { _ = own.Stop() })
	ctx := context.Background()
	ns, err := own.CreateNamespace(ctx, "outage-")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := own.WriteKubeconfig(own.Config(), ns)
	if err != nil {
		t.Fatal(err)
	}
	c := cluster{kubeconfig: kc, namespace: ns, lease: "outage"}
	es := []*eproc{startElector(t, c, "pod-a", electorTimings), startElector(t, c, "pod-b", electorTimings)}
	waitAnswers(t, es, func(name string) bool { return name != "" }, 15*time.Second)

	if err := own.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	took := waitAnswers(t, es, func(name string) bool { return name == "" }, renewDeadline+2*time.Second)
	t.Logf("apiserver down: both electors answer {\"name\":\"\"} after %v (renew deadline %v)", took.Round(time.Millisecond), renewDeadline)
	if took > renewDeadline+200*time.Millisecond {
		t.Errorf("the electors named a leader %v after the apiserver went away, want within the renew deadline %v", took, renewDeadline)
	}
	sc, _ := sidecarclient.New(es[0].url)
	if l, err := sc.Leader(ctx); !errors.Is(err, sidecarclient.ErrLeaderUnknown) || l.Reason == "" || l.Error == "" {
		t.Errorf("answer during the outage: %+v, %v; want a reason and an error", l, err)
	}

	if err := own.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	took = waitAnswers(t, es, func(name string) bool { return name != "" }, 30*time.Second)
	t.Logf("apiserver back (ready): both electors name a leader again %v later", took.Round(time.Millisecond))
	a, b := es[0].answer(t), es[1].answer(t)
	if a != b {
		t.Errorf("after the outage the electors answer %q and %q", a, b)
	}
}

// waitAnswers waits until every elector's name satisfies ok and returns how
// long it took.
func waitAnswers(t *testing.T, es []*eproc, ok func(string) bool, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var took time.Duration
	testutil.Eventually(t, within, "the electors' answers change as expected", func() bool {
		for _, e := range es {
			if !ok(e.answer(t)) {
				return false
			}
		}
		took = time.Since(start)
		return true
	})
	return took
}

// Clusters without native sidecars: the kubelet sends SIGTERM to the app and
// the elector at once. With --release-delay the elector keeps the Lease
// while the app drains, then releases it: the other pod takes over after
// the delay, and no fire runs twice.
func TestElectorReleaseDelay(t *testing.T) {
	t.Parallel()
	c := electorCluster(t)
	delay := []string{"--release-delay=1500ms"}
	pods := []*pod{startPodWith(t, c, "pod-a", electorTimings, delay), startPodWith(t, c, "pod-b", electorTimings, delay)}
	old, next := reportLeader(t, pods, 30*time.Second)
	time.Sleep(time.Second)

	untilFraction(200 * time.Millisecond)
	termed := old.app.signal(t, syscall.SIGTERM)
	old.elector.signal(t, syscall.SIGTERM)
	old.app.waitExit(t, 10*time.Second)
	old.elector.waitExit(t, 10*time.Second)
	exited := time.Since(termed)
	first := awaitReportAfter(t, next, termed, 5*time.Second)
	took := first.started().Sub(termed)
	t.Logf("both SIGTERMed at once: elector exited after %v, %s's first run after %v", exited.Round(time.Millisecond), next.name, took.Round(time.Millisecond))
	if exited < 1500*time.Millisecond {
		t.Errorf("the elector exited %v after SIGTERM, before its release delay", exited)
	}
	if took < 1500*time.Millisecond || took > 1500*time.Millisecond+time.Second+200*time.Millisecond {
		t.Errorf("%s's first run came %v after SIGTERM, want after the 1.5s delay, at the next fire", next.name, took)
	}
	time.Sleep(1500 * time.Millisecond)
	assertFiresOnce(t, pods, 2)
}
