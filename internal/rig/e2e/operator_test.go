package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

var (
	pluginOnce sync.Once
	pluginBin  string
	pluginErr  error
)

// plugin builds cmd/kubectl-leaderjob once per test binary.
func plugin(t *testing.T) string {
	t.Helper()
	monolith(t) // makes buildDir
	pluginOnce.Do(func() {
		pluginBin = filepath.Join(buildDir, "kubectl-leaderjob")
		out, err := exec.Command("go", "build", "-o", pluginBin, "github.com/leaderjob/leaderjob/cmd/kubectl-leaderjob").CombinedOutput()
		if err != nil {
			pluginErr = err
			t.Logf("go build ./cmd/kubectl-leaderjob:\n%s", out)
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginBin
}

// kubectlLeaderjob runs the plugin against c and returns its stdout,
// stderr and exit code.
func kubectlLeaderjob(t *testing.T, c cluster, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, plugin(t), append([]string{"--kubeconfig", c.kubeconfig, "-n", c.namespace}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// dailyRuns are the runs of daily-report by ps whose record matches keep.
func dailyRuns(ps []*proc, keep func(r record) bool) []record {
	var out []record
	for _, p := range ps {
		for _, r := range p.snapshot() {
			if r.Msg == "job run" && r.Job == "daily-report" && r.Outcome == "ran" && keep(r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// Operators steer the fleet from kubectl: status names the leader's last
// run; a pause holds every fire of the job (on the leader, and on the next
// one after the leader is killed) from the moment the command returns; a
// resume lets them run again; run-now runs the job exactly once per
// request id, within a couple of seconds.
func TestOperatorPlugin(t *testing.T) {
	t.Parallel()
	c := newCluster(t, "monolith")
	env := []string{"DAILY_REPORT_CRON=* * * * * *", "DAILY_REPORT_ZONE=UTC", "LEADERJOB_CATCH_UP=all:1m",
		"HEARTBEAT_RATE=PT1H", "EXCHANGE_RATES_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H"}
	ps := []*proc{startProc(t, c, "op-a", env...), startProc(t, c, "op-b", env...), startProc(t, c, "op-c", env...)}
	plugin(t)
	first := dailyLeader(t, ps, time.Time{}, 30*time.Second)
	time.Sleep(1500 * time.Millisecond)

	// status -o json names the leader and its last run of daily-report.
	out, errOut, code := kubectlLeaderjob(t, c, "status", "-o", "json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st struct {
		Apps []struct {
			App    string `json:"app"`
			Leader string `json:"leader"`
			Jobs   []struct {
				Name          string `json:"name"`
				LastCompleted *struct {
					Holder  string `json:"holder"`
					Outcome string `json:"outcome"`
				} `json:"lastCompleted"`
			} `json:"jobs"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	found := false
	for _, a := range st.Apps {
		for _, j := range a.Jobs {
			if a.App == "monolith" && a.Leader == first.name && j.Name == "daily-report" && j.LastCompleted != nil &&
				j.LastCompleted.Holder == first.name && j.LastCompleted.Outcome == "ran" {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("status does not name %s and its last run of daily-report:\n%s", first.name, out)
	}
	if _, errOut, code := kubectlLeaderjob(t, c, "pause", "monolith", "nope"); code == 0 || !strings.Contains(errOut, "known jobs: ") || !strings.Contains(errOut, "daily-report") {
		t.Fatalf("pause of an unknown job: exit %d: %s", code, errOut)
	}
	if _, errOut, _ := kubectlLeaderjob(t, c, "status", "nope"); !strings.Contains(errOut, "known apps: monolith") {
		t.Fatalf("unknown app: %s", errOut)
	}

	// pause: from its return on, no fire of daily-report runs anywhere,
	// also across a SIGKILL of the leader.
	pauseStart := time.Now()
	out, errOut, code = kubectlLeaderjob(t, c, "pause", "monolith", "daily-report", "--reason", "x")
	paused := time.Now()
	pauseTook := paused.Sub(pauseStart)
	if code != 0 || !strings.Contains(out, "acknowledged") {
		t.Fatalf("pause: exit %d: %s%s", code, out, errOut)
	}
	time.Sleep(2 * time.Second)
	first.signal(t, syscall.SIGKILL)
	first.waitExit(t, 5*time.Second)
	rest := without2(ps, first)
	time.Sleep(crashBound + 3*time.Second) // the next leader's term and catch-up
	if runs := dailyRuns(ps, func(r record) bool { return r.ScheduledAt.After(paused) }); len(runs) > 0 {
		t.Fatalf("paused, yet %d fires ran after the pause returned, first %+v", len(runs), runs[0])
	}
	heldBy := map[string]int{}
	for _, p := range rest {
		for _, r := range p.snapshot() {
			if r.Msg == "job run" && r.Job == "daily-report" && r.Reason == "paused" {
				heldBy[p.name]++
			}
		}
	}
	if len(heldBy) == 0 {
		t.Fatal("no fire was skipped as paused by the next leader")
	}
	// The pause and the next leader's election are Events on the ledger
	// ConfigMap.
	reasons := ledgerEvents(t, c, []string{"JobPaused", "LeaderElected"}, 10*time.Second)
	out, _, _ = kubectlLeaderjob(t, c, "status", "monolith")
	if !strings.Contains(out, "x") || !strings.Contains(out, "by ") {
		t.Fatalf("status does not show the pause:\n%s", out)
	}

	// resume: it runs again.
	if out, errOut, code := kubectlLeaderjob(t, c, "resume", "monolith", "daily-report"); code != 0 {
		t.Fatalf("resume: exit %d: %s%s", code, out, errOut)
	}
	resumed := time.Now()
	dailyLeader(t, rest, resumed, 5*time.Second)

	// run: one run within 2 s, once per request id.
	start := time.Now()
	out, errOut, code = kubectlLeaderjob(t, c, "run", "monolith", "daily-report", "--request-id", "req-1")
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "ran") {
		t.Fatalf("run: exit %d: %s%s", code, out, errOut)
	}
	if took > 2*time.Second {
		t.Errorf("run took %v, want at most 2s", took)
	}
	manual := func() []record {
		return dailyRuns(ps, func(r record) bool { return strings.HasSuffix(r.Key, "/run/req-1") })
	}
	if n := len(manual()); n != 1 {
		t.Fatalf("%d runs of request req-1, want 1", n)
	}
	out, errOut, code = kubectlLeaderjob(t, c, "run", "monolith", "daily-report", "--request-id", "req-1")
	if code != 0 || !strings.Contains(out, "already done") {
		t.Fatalf("repeated run: exit %d: %s%s", code, out, errOut)
	}
	time.Sleep(time.Second)
	if n := len(manual()); n != 1 {
		t.Fatalf("%d runs of request req-1 after it was repeated, want 1", n)
	}
	t.Logf("pause acknowledged in %v and held across a leader kill (paused fires skipped by the next leader: %v); run-now answered in %v; events on the ledger: %v",
		pauseTook.Round(time.Millisecond), heldBy, took.Round(time.Millisecond), reasons)
}

// ledgerEvents waits until the events.k8s.io/v1 Events regarding the
// monolith's ledger ConfigMap include every reason in want, and returns
// the count of each reason.
func ledgerEvents(t *testing.T, c cluster, want []string, within time.Duration) map[string]int {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var reasons map[string]int
	testutil.EventuallyNoError(t, within, fmt.Sprintf("%v events on the ledger ConfigMap", want), func() error {
		reasons = map[string]int{}
		list, err := cs.EventsV1().Events(c.namespace).List(context.Background(),
			metav1.ListOptions{FieldSelector: "regarding.name=monolith-leaderjob-ledger"})
		if err == nil {
			for _, e := range list.Items {
				if e.Regarding.Kind != "ConfigMap" || e.Regarding.Namespace != c.namespace {
					t.Fatalf("event %s regards %+v", e.Name, e.Regarding)
				}
				reasons[e.Reason]++
			}
		}
		if missing := slices.DeleteFunc(slices.Clone(want), func(r string) bool { return reasons[r] > 0 }); len(missing) > 0 {
			return fmt.Errorf("no %v event (error %v); reasons: %v", missing, err, reasons)
		}
		return nil
	})
	return reasons
}
