package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
	"github.com/leaderjob/leaderjob/sidecarclient"
)

// TestMeasureElector measures leaderjob-elector pods (the command and the
// example app in sidecar mode, separate processes) on a real apiserver. It
// runs only when LEADERJOB_MEASURE=1:
//
//	LEADERJOB_MEASURE=1 KUBEBUILDER_ASSETS=$(hack/controlplane.sh) \
//	  go test -v -count=1 -timeout 30m -run MeasureElector ./internal/rig/e2e
//
// Per run, two pods; the app's heartbeat job runs every 50ms so that its
// first run after a change shows the app's own delay:
//
//   - hand-off in native-sidecar order: SIGTERM to the leader's app; once it
//     has exited, SIGTERM to its elector. Measured from the elector's
//     SIGTERM to the standby elector's stream event naming itself, and to
//     the standby app's first heartbeat.
//   - crash: SIGKILL to the leader's elector, measured the same way.
//
// Then the election's requests to the apiserver per minute, from each
// elector's leaderjob_elector_apiserver_requests_total, leader and standby.
// LEADERJOB_MEASURE_RUNS sets the runs per scenario (default 7);
// LEADERJOB_MEASURE_TRAFFIC the traffic window (default 1m).
func TestMeasureElector(t *testing.T) {
	if os.Getenv("LEADERJOB_MEASURE") != "1" {
		t.Skip("a measurement, not a test: set LEADERJOB_MEASURE=1 to run it")
	}
	runs := 7
	if v, err := strconv.Atoi(os.Getenv("LEADERJOB_MEASURE_RUNS")); err == nil && v > 0 {
		runs = v
	}
	window := time.Minute
	if v, err := time.ParseDuration(os.Getenv("LEADERJOB_MEASURE_TRAFFIC")); err == nil && v > 0 {
		window = v
	}
	ttl10 := timings{10 * time.Second, 5 * time.Second, 2500 * time.Millisecond} // --ttl=10s, the default
	fast := electorTimings

	var report []string
	for _, s := range []struct {
		name  string
		crash bool
		tm    timings
	}{
		{"hand-off", false, ttl10},
		{"crash", true, fast},
		{"crash", true, ttl10},
	} {
		var toLead, toRun []time.Duration
		for i := range runs {
			l, r := electorHandOver(t, s.crash, s.tm, i)
			toLead, toRun = append(toLead, l), append(toRun, r)
		}
		what := "elector SIGTERM (after the app exited)"
		if s.crash {
			what = "elector SIGKILL"
		}
		report = append(report,
			fmt.Sprintf("%-8s %-14s %s → standby elector names itself: %s", s.name, s.tm, what, stats(toLead)),
			fmt.Sprintf("%-8s %-14s %s → standby app's 1st run:       %s (job every 50ms)", s.name, s.tm, what, stats(toRun)))
	}
	for _, tm := range []timings{ttl10, fast} {
		leader, standby := electorTraffic(t, tm, window)
		report = append(report, fmt.Sprintf("traffic  %-14s apiserver requests/minute: leader %.1f, standby %.1f (over %v)", tm, leader, standby, window))
	}
	for _, l := range report {
		t.Log(l)
	}
}

// electorHandOver starts two pods, waits for a leader, and hands over
// (gracefully or by killing the leader's elector). It returns how long
// until the standby's elector named itself and until its app ran.
func electorHandOver(t *testing.T, crash bool, tm timings, i int) (toLead, toRun time.Duration) {
	t.Helper()
	c := electorCluster(t)
	pods := []*pod{startMeasuredPod(t, c, "pod-a", tm), startMeasuredPod(t, c, "pod-b", tm)}
	var old, next *pod
	testutil.Eventually(t, tm.lease+30*time.Second, "a leader", func() bool {
		for j, p := range pods {
			if p.elector.answer(t) == p.name {
				old, next = p, pods[1-j]
			}
		}
		return old != nil
	})
	time.Sleep(tm.retry + time.Second) // the standby has seen a renewal

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	led := make(chan time.Time, 1)
	sc, err := sidecarclient.New(next.elector.url)
	if err != nil {
		t.Fatal(err)
	}
	var once, openOnce sync.Once
	opened := make(chan struct{})
	go func() {
		_ = sc.Watch(ctx, func(l sidecarclient.Leader, _ error) {
			openOnce.Do(func() { close(opened) }) // the first event: the answer when the stream opened
			if l.IsLeader {
				once.Do(func() { led <- time.Now() })
			}
		})
	}()
	testutil.Recv(t, opened, 10*time.Second, "the standby's change stream open")

	var at time.Time
	if crash {
		at = old.elector.signal(t, syscall.SIGKILL)
	} else {
		old.app.signal(t, syscall.SIGTERM)
		old.app.waitExit(t, 10*time.Second)
		at = old.elector.signal(t, syscall.SIGTERM)
	}
	select {
	case l := <-led:
		toLead = l.Sub(at)
	case <-time.After(tm.lease + 5*tm.retry + 5*time.Second):
		t.Fatal("the standby's elector never named itself")
	}
	testutil.Eventually(t, 5*time.Second, "the standby's app runs", func() bool {
		if r, ok := next.app.firstRanAfter(at); ok {
			toRun = r.started().Sub(at)
		}
		return toRun != 0
	})
	for _, p := range pods {
		p.app.kill()
		p.elector.kill()
	}
	kind := "hand-off"
	if crash {
		kind = "crash"
	}
	t.Logf("%s %s run %d: standby elector named itself after %v, its app ran after %v", kind, tm, i+1, toLead, toRun)
	return toLead, toRun
}

func startMeasuredPod(t *testing.T, c cluster, name string, tm timings) *pod {
	t.Helper()
	e := startElector(t, c, name, tm)
	app := startProc(t, c, name,
		"LEADERJOB_GUARD=sidecar",
		"LEADERJOB_SIDECAR_URL="+e.url,
		"KUBECONFIG=",
		"HEARTBEAT_RATE=50ms",
		"EXCHANGE_RATES_RATE=1h",
		"SESSION_CLEANUP_DELAY=1h",
		"SESSION_CLEANUP_INITIAL_DELAY=1h",
	)
	return &pod{name: name, elector: e, app: app}
}

// electorTraffic runs two electors for window and returns the apiserver
// requests per minute of the leader and of the standby, as each counts
// them.
func electorTraffic(t *testing.T, tm timings, window time.Duration) (leader, standby float64) {
	t.Helper()
	c := electorCluster(t)
	es := []*eproc{startElector(t, c, "pod-a", tm), startElector(t, c, "pod-b", tm)}
	waitAnswers(t, es, func(name string) bool { return name != "" }, tm.lease+30*time.Second)
	time.Sleep(tm.retry + time.Second)
	before := []float64{upstreamRequests(t, es[0]), upstreamRequests(t, es[1])}
	time.Sleep(window)
	after := []float64{upstreamRequests(t, es[0]), upstreamRequests(t, es[1])}
	lead := 0
	if es[1].answer(t) == es[1].name {
		lead = 1
	}
	per := func(i int) float64 { return (after[i] - before[i]) / window.Minutes() }
	for _, e := range es {
		e.kill()
	}
	return per(lead), per(1 - lead)
}

// upstreamRequests sums the elector's leaderjob_elector_apiserver_requests_total.
func upstreamRequests(t *testing.T, e *eproc) float64 {
	t.Helper()
	resp, err := http.Get(e.ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		if !strings.HasPrefix(line, "leaderjob_elector_apiserver_requests_total{") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
