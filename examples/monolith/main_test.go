package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// These tests run the real binary as Kubernetes does: configured by the
// environment alone and stopped with SIGTERM.

const procBound = 30 * time.Second

// binary compiles this program into the test's temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command to build the binary with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "monolith")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running instance of the binary.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr testutil.LogBuffer // written by exec's copying goroutine

	mu    sync.Mutex
	lines []logLine
	seen  map[string]chan struct{} // closed at the first record with that msg
	eof   chan struct{}            // closed when stdout ends
}

type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// start runs the binary with exactly vars (and a few defaults) as its
// environment: nothing of the test's own environment leaks into it.
func start(t *testing.T, bin string, vars map[string]string) *proc {
	t.Helper()
	env := map[string]string{"POD_NAME": "monolith-0", "LEADERJOB_HTTP_ADDR": "", "LEADERJOB_LOG_FORMAT": "json"}
	for k, v := range vars {
		env[k] = v
	}
	p := &proc{t: t, cmd: exec.Command(bin), seen: map[string]chan struct{}{}, eof: make(chan struct{})}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = &p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.eof
			_ = p.cmd.Wait()
		}
	})
	return p
}

func (p *proc) read(r io.Reader) {
	defer close(p.eof)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			l = logLine{"unparsed": sc.Text()}
		}
		p.mu.Lock()
		p.lines = append(p.lines, l)
		if ch := p.waiter(l.str("msg")); !isClosed(ch) {
			close(ch)
		}
		p.mu.Unlock()
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waiter returns the channel for msg; p.mu must be held.
func (p *proc) waiter(msg string) chan struct{} {
	ch, ok := p.seen[msg]
	if !ok {
		ch = make(chan struct{})
		p.seen[msg] = ch
	}
	return ch
}

// await waits for the first record whose msg is msg.
func (p *proc) await(msg string) {
	p.t.Helper()
	p.mu.Lock()
	ch := p.waiter(msg)
	p.mu.Unlock()
	select {
	case <-ch:
	case <-p.eof:
		p.t.Fatalf("the program ended before logging %q; stderr:\n%s", msg, p.stderr.String())
	case <-time.After(procBound):
		p.t.Fatalf("no %q record within %v", msg, procBound)
	}
}

// wait waits for the program to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.eof:
	case <-time.After(procBound):
		p.t.Fatalf("the program did not exit within %v", procBound)
	}
	err := p.cmd.Wait()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		p.t.Fatal(err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// records returns the records with msg, and with job when job is not "".
func (p *proc) records(msg, job string) []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []logLine
	for _, l := range p.lines {
		if l.str("msg") == msg && (job == "" || l.str("job") == job) {
			out = append(out, l)
		}
	}
	return out
}

func TestBinaryStopsCleanlyOnSIGTERM(t *testing.T) {
	p := start(t, binary(t), map[string]string{
		"LEADERJOB_GUARD":     "always",
		"LEADERJOB_LOG_LEVEL": "debug",
		"HEARTBEAT_RATE":      "100ms",
		"EXCHANGE_RATES_RATE": "1h",
		"EXCHANGE_RATES_WORK": "1h", // the refresh runs until it is cancelled
	})
	p.await("refreshing exchange rates")
	p.await("job run") // a heartbeat's: the refresh runs until it is cancelled
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr.String())
	}

	runs := p.records("job run", "exchange-rates")
	if len(runs) != 1 {
		t.Fatalf("exchange-rates run records: %v, want exactly one", runs)
	}
	if r := runs[0]; r.str("outcome") != "canceled" || r.str("level") != "WARN" || !strings.Contains(r.str("error"), "shutting down") {
		t.Fatalf("exchange-rates record %v, want canceled at WARN because the app is shutting down", r)
	}
	if len(p.records("shutting down", "")) != 1 || len(p.records("stopped", "")) != 1 {
		t.Fatalf("want one shutting down and one stopped record; stderr:\n%s", p.stderr.String())
	}
	if n := len(p.records("stopped with errors", "")); n != 0 {
		t.Fatalf("%d stopped with errors records", n)
	}
	ran := 0
	for _, b := range p.records("job run", "heartbeat") {
		if b.str("outcome") == "ran" && b.str("holder") == "monolith-0" {
			ran++
		}
	}
	if ran == 0 {
		t.Fatalf("heartbeat records %v, want runs held by monolith-0", p.records("job run", "heartbeat"))
	}
}

func TestBinaryRejectsBadConfiguration(t *testing.T) {
	bin := binary(t)
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"LEADERJOB_GUARD": "bogus"}, []string{"LEADERJOB_GUARD", "bogus", "always"}},
		{map[string]string{"LEADERJOB_GUARD": "always", "HEARTBEAT_RATE": "banana"}, []string{`"heartbeat"`, `"banana"`}},
		{map[string]string{"LEADERJOB_GUARD": "always", "DAILY_REPORT_ZONE": "Mars/Olympus_Mons"}, []string{`"daily-report"`, "Mars/Olympus_Mons"}},
		{map[string]string{"LEADERJOB_GUARD": "always", "EXCHANGE_RATES_WORK": "forever"}, []string{"EXCHANGE_RATES_WORK", `"forever"`}},
	} {
		p := start(t, bin, tc.env)
		code := p.wait()
		if code == 0 {
			t.Errorf("env %v: exit code 0, want a failure", tc.env)
		}
		for _, w := range tc.want {
			if !strings.Contains(p.stderr.String(), w) {
				t.Errorf("env %v: stderr %q does not mention %s", tc.env, p.stderr.String(), w)
			}
		}
		if n := len(p.records("started", "")); n != 0 {
			t.Errorf("env %v: the program started its jobs", tc.env)
		}
	}
}

// An operator who sets LEADERJOB_LOG_LEVEL=warn sees what needs a person
// and nothing else, even while the apiserver cannot be reached: no DEBUG or
// INFO record on stdout, nothing from client-go on stderr, and the guard
// problem reported at WARN, not once per fire.
func TestBinaryAtWarnWithAnUnreachableAPIServer(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: default}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, binary(t), map[string]string{
		"LEADERJOB_GUARD":          "lease",
		"KUBECONFIG":               kubeconfig,
		"LEADERJOB_LOG_LEVEL":      "warn",
		"LEADERJOB_LEASE_DURATION": "3s", "LEADERJOB_RENEW_DEADLINE": "2s", "LEADERJOB_RETRY_PERIOD": "500ms",
		"HEARTBEAT_RATE": "100ms",
	})
	time.Sleep(3 * time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.wait()
	p.mu.Lock()
	lines := append([]logLine(nil), p.lines...)
	p.mu.Unlock()
	skipped := 0
	for _, l := range lines {
		if lvl := l.str("level"); lvl != "WARN" && lvl != "ERROR" {
			t.Errorf("a %s record at warn level: %v", lvl, l)
		}
		if l.str("msg") == "runs skipped: the guard cannot answer" {
			skipped++
		}
	}
	if skipped == 0 || skipped > 2 {
		t.Errorf("%d WARN summaries of skipped runs in 3s of per-100ms fires, want one (at most one per reason)", skipped)
	}
	if s := p.stderr.String(); strings.TrimSpace(s) != "" {
		t.Errorf("stderr at warn level:\n%s", s)
	}
}
