package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/leaderjob/leaderjob/internal/rig/testdeps"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

const rulesFile = "../../../examples/prometheus/leaderjob-rules.yaml"

// A real Prometheus (Debian's package) scrapes two lease-mode replicas of
// the example every second, as a static scrape config would, and evaluates
// examples/prometheus/leaderjob-rules.yaml. It sees exactly one leader while
// every job is hourly (the gauge follows the guard, not the last run), no
// series renamed by the scrape (exported_job), the scheduled job in
// job_name, and every rule loaded and healthy with the leader alerts quiet;
// every query of examples/grafana's dashboard parses and returns series.
func TestPrometheusScrapesReplicas(t *testing.T) {
	promBin := testdeps.Tool(t, "prometheus")
	c := newCluster(t, "monolith")
	names := []string{"monolith-a", "monolith-b"}
	addrs := map[string]string{} // pod -> ops address
	for _, name := range names {
		addr := freeAddr(t)
		addrs[name] = addr
		startProc(t, c, name,
			"EXCHANGE_RATES_RATE=PT1H", "HEARTBEAT_RATE=PT1H", "SESSION_CLEANUP_DELAY=PT1H", "SESSION_CLEANUP_INITIAL_DELAY=PT1H",
			"LEADERJOB_HTTP_ADDR="+addr)
	}

	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var targets strings.Builder
	for _, name := range names {
		fmt.Fprintf(&targets, "      - targets: [%q]\n        labels: {pod: %q, namespace: %q}\n", addrs[name], name, c.namespace)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  # A scrape job named like the app's jobs would be: any app label "job"
  # would come out as exported_job.
  - job_name: leaderjob
    static_configs:
%s`, rules, targets.String())
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	prom := startPrometheus(t, promBin, dir, promAddr)
	api := &promAPI{base: "http://" + promAddr}
	waitReady(t, prom, api.base+"/-/ready", 30*time.Second)
	t.Logf("prometheus on %s, replicas on %v", promAddr, addrs)

	// Both targets up, and exactly one leader.
	start := time.Now()
	testutil.EventuallyNoError(t, 30*time.Second, "both targets up and one leader", func() error {
		up := api.scalar(t, `count(up{job="leaderjob"} == 1)`)
		leaders := api.scalar(t, `sum(leaderjob_is_leader)`)
		if up != 2 || leaders != 1 {
			return fmt.Errorf("%v targets up, sum(leaderjob_is_leader) = %v; want 2 and 1", up, leaders)
		}
		return nil
	})
	t.Logf("Prometheus saw both targets up and one leader %v after it was ready", time.Since(start).Round(time.Millisecond))
	// A few more scrapes and rule evaluations.
	time.Sleep(4 * time.Second)
	if got := api.scalar(t, `sum(leaderjob_is_leader)`); got != 1 {
		t.Errorf("sum(leaderjob_is_leader) = %v a few scrapes later, want 1", got)
	}

	t.Run("the leader is the replica whose /leader says so", func(t *testing.T) {
		res := api.query(t, `leaderjob_is_leader == 1`)
		if len(res) != 1 {
			t.Fatalf("leaders in Prometheus: %v", res)
		}
		pod := res[0].Metric["pod"]
		info := api.query(t, `leaderjob_info * on (instance) group_left leaderjob_is_leader == 1`)
		if len(info) != 1 || info[0].Metric["replica"] != pod {
			t.Errorf("leaderjob_info of the leading target: %v, want replica %q", info, pod)
		}
		var leader struct {
			Self     string `json:"self"`
			IsLeader bool   `json:"is_leader"`
		}
		get(t, "http://"+addrs[pod]+"/leader", &leader)
		if !leader.IsLeader || leader.Self != pod {
			t.Errorf("%s /leader = %+v, but Prometheus sees it lead", pod, leader)
		}
	})

	t.Run("series carry app_name and job_name, never exported_job", func(t *testing.T) {
		series := api.series(t, `{__name__=~"leaderjob_.+"}`)
		if len(series) == 0 {
			t.Fatal("no leaderjob series")
		}
		seen := map[string]bool{}
		problems := map[string][]string{} // problem -> metric names
		report := func(problem, name string) {
			if !slices.Contains(problems[problem], name) {
				problems[problem] = append(problems[problem], name)
			}
		}
		for _, s := range series {
			name := s["__name__"]
			seen[name] = true
			if _, ok := s["exported_job"]; ok {
				report("have exported_job (an app label \"job\" renamed by the scrape)", name)
			}
			if s["job"] != "leaderjob" {
				report("lost the scrape's job label", name)
			}
			if s["app_name"] != "monolith" {
				report(`have no app_name="monolith"`, name)
			}
			if name == "leaderjob_runs_total" && s["job_name"] == "" {
				report("have no job_name", name)
			}
		}
		for problem, metrics := range problems {
			slices.Sort(metrics)
			t.Errorf("series that %s: %s", problem, strings.Join(metrics, ", "))
		}
		for _, want := range []string{"leaderjob_is_leader", "leaderjob_info", "leaderjob_job_interval_seconds", "leaderjob_runs_total"} {
			if !seen[want] {
				t.Errorf("no %s series", want)
			}
		}
		for _, job := range []string{"exchange-rates", "heartbeat", "session-cleanup"} {
			res := api.query(t, `leaderjob_job_interval_seconds{job_name="`+job+`"}`)
			if len(res) != 2 {
				t.Errorf("%s: interval series %v, want one per replica", job, res)
			}
			for _, r := range res {
				if r.value(t) != 3600 {
					t.Errorf("%s: interval %v on %s, want 3600 (PT1H)", job, r.Value, r.Metric["pod"])
				}
			}
		}
	})

	t.Run("every rule loads, evaluates and the leader alerts are quiet", func(t *testing.T) {
		want := ruleNames(t)
		var got map[string]promRule
		testutil.Until(15*time.Second, func() bool { // judged rule by rule below
			got = api.rules(t)
			evaluated := len(got) == len(want)
			for _, r := range got {
				evaluated = evaluated && r.Health == "ok" && !r.LastEvaluation.IsZero()
			}
			return evaluated
		})
		for _, name := range want {
			r, ok := got[name]
			if !ok {
				t.Errorf("rule %s is not loaded", name)
				continue
			}
			t.Logf("%s: health %s, state %s, last evaluated %v", name, r.Health, r.State, r.LastEvaluation.Format(time.TimeOnly))
			if r.Health != "ok" || r.LastEvaluation.IsZero() {
				t.Errorf("rule %s: health %q (%s), last evaluation %v", name, r.Health, r.LastError, r.LastEvaluation)
			}
		}
		if len(got) != len(want) {
			t.Errorf("Prometheus has %d rules, the file %d", len(got), len(want))
		}
		for _, name := range []string{"LeaderjobNoLeader", "LeaderjobSplitBrain"} {
			if s := got[name].State; s == "firing" {
				t.Errorf("%s is firing with one leader", name)
			}
		}
	})

	t.Run("every query of the Grafana dashboard returns series", func(t *testing.T) {
		checkDashboard(t, api, c.namespace)
	})

	t.Run("series a dashboard reads exist from start, at zero", func(t *testing.T) {
		// On both replicas, for a job that never fired (session-cleanup's
		// first fire is an hour away).
		for _, expr := range []string{
			`leaderjob_runs_total{job_name="session-cleanup", outcome="failed"}`,
			`leaderjob_runs_in_progress{job_name="session-cleanup"}`,
			`leaderjob_fire_lag_seconds_count{job_name="session-cleanup", fire="catch_up"}`,
			`leaderjob_catch_up_runs_total{job_name="session-cleanup"}`,
			`leaderjob_pauses{job_name="session-cleanup"}`,
		} {
			res := api.query(t, expr)
			if len(res) != 2 {
				t.Errorf("%s: %v, want a series per replica", expr, res)
			}
			for _, r := range res {
				if r.value(t) != 0 {
					t.Errorf("%s on %s = %v, want 0", expr, r.Metric["pod"], r.Value)
				}
			}
		}
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		promtool := testdeps.Tool(t, "promtool")
		resp, err := http.Get("http://" + addrs[names[0]] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		out, err := cmd.CombinedOutput()
		var problems []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.HasPrefix(line, "leaderjob_") {
				problems = append(problems, line)
			}
		}
		if len(problems) > 0 {
			t.Errorf("promtool check metrics on leaderjob's series:\n%s", strings.Join(problems, "\n"))
		}
		if err != nil && len(problems) == 0 {
			t.Logf("promtool check metrics (not leaderjob's series): %v\n%s", err, out)
		}
	})
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// prometheus is a running Prometheus server and its output.
type prometheus struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  testutil.LogBuffer
}

func (p *prometheus) log() string { return p.out.String() }

func startPrometheus(t *testing.T, bin, dir, addr string) *prometheus {
	t.Helper()
	p := &prometheus{done: make(chan struct{})}
	p.cmd = exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", p.log())
		}
	})
	return p
}

func waitReady(t *testing.T, p *prometheus, url string, within time.Duration) {
	t.Helper()
	testutil.Eventually(t, within, "prometheus ready", func() bool {
		select {
		case <-p.done:
			t.Fatalf("prometheus exited: %v\n%s", p.cmd.ProcessState, p.log())
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// promAPI calls Prometheus's HTTP API.
type promAPI struct{ base string }

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) value(t *testing.T) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("sample value %v: %v", s.Value, err)
	}
	return v
}

func (a *promAPI) call(t *testing.T, path string, params url.Values, data any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path+"?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if env.Status != "success" {
		t.Fatalf("%s %v: %s %s", path, params, env.Status, env.Error)
	}
	if err := json.Unmarshal(env.Data, data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func (a *promAPI) query(t *testing.T, expr string) []sample {
	t.Helper()
	var data struct {
		ResultType string   `json:"resultType"`
		Result     []sample `json:"result"`
	}
	a.call(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	return data.Result
}

// scalar is the value of a query with one result, or -1 for none.
func (a *promAPI) scalar(t *testing.T, expr string) float64 {
	t.Helper()
	res := a.query(t, expr)
	switch len(res) {
	case 0:
		return -1
	case 1:
		return res[0].value(t)
	}
	t.Fatalf("%s: %d results", expr, len(res))
	return 0
}

func (a *promAPI) series(t *testing.T, match string) []map[string]string {
	t.Helper()
	var data []map[string]string
	a.call(t, "/api/v1/series", url.Values{"match[]": {match}, "start": {strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}}, &data)
	return data
}

type promRule struct {
	Name           string    `json:"name"`
	Type           string    `json:"type"`
	Health         string    `json:"health"`
	State          string    `json:"state"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

func (a *promAPI) rules(t *testing.T) map[string]promRule {
	t.Helper()
	var data struct {
		Groups []struct {
			File  string     `json:"file"`
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	a.call(t, "/api/v1/rules", nil, &data)
	out := map[string]promRule{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			out[r.Name] = r
		}
	}
	return out
}

// ruleNames are the alert and recording rules of the rules file.
func ruleNames(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert  string `json:"alert"`
				Record string `json:"record"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			names = append(names, r.Alert+r.Record)
		}
	}
	if len(names) == 0 || slices.Contains(names, "") {
		t.Fatalf("rules without names in %s: %v", rulesFile, names)
	}
	return names
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
}
