package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/rig/controlplane"
	"github.com/leaderjob/leaderjob/internal/testutil"
)

// Timings of the example processes: lease 3s, renew deadline 2s, retry
// 500ms, and a heartbeat job every 200ms.
const (
	leaseDuration = 3 * time.Second
	renewDeadline = 2 * time.Second
	retryPeriod   = 500 * time.Millisecond
	jobInterval   = 200 * time.Millisecond
)

var (
	cp controlplane.Shared

	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	cp.Stop()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// monolith builds examples/monolith once per test binary.
func monolith(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "leaderjob-e2e-")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "monolith")
		cmd := exec.Command("go", "build", "-o", binary, "github.com/leaderjob/leaderjob/examples/monolith")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./examples/monolith: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// record is one JSON log record of the example program.
type record struct {
	Time        time.Time     `json:"time"`
	Level       string        `json:"level"`
	Msg         string        `json:"msg"`
	Component   string        `json:"component"`
	Job         string        `json:"job"`
	Outcome     string        `json:"outcome"`
	Reason      string        `json:"reason"`
	Holder      string        `json:"holder"`
	Epoch       *int64        `json:"epoch"`
	ScheduledAt time.Time     `json:"scheduled_at"`
	For         time.Time     `json:"for"`
	CheckTook   time.Duration `json:"check_duration"`
	Duration    time.Duration `json:"duration"`
	Error       string        `json:"error"`
	CatchUp     bool          `json:"catch_up"`
	Key         string        `json:"key"`
	raw         string
}

// ran reports whether r is a heartbeat run that called the job.
func (r record) ran() bool { return r.Msg == "job run" && r.Job == "heartbeat" && r.Outcome == "ran" }

// started is when the run's job was called (after the guard answered).
func (r record) started() time.Time { return r.ScheduledAt.Add(r.CheckTook) }

// process is a command a test started: both its outputs go line by line to
// a callback, and it is killed when the test ends. The example processes
// (proc) and the elector processes (eproc) are processes.
type process struct {
	label string // names it in messages
	cmd   *exec.Cmd
	done  chan struct{} // closed once its output has ended and it has exited
}

// startProcess starts cmd and calls line with each line it writes. When
// the test ends it is killed, and if the test failed, log is logged.
func startProcess(t *testing.T, label string, cmd *exec.Cmd, line func(string), log func() string) *process {
	t.Helper()
	p := &process{label: label, cmd: cmd, done: make(chan struct{})}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		s := bufio.NewScanner(out)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			line(s.Text())
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of %s:\n%s", label, log())
		}
	})
	return p
}

// kill kills the process, continuing it first if it is stopped, and waits
// until it has exited.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) signal(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.label, sig, err)
	}
	return at
}

// waitExit waits for the process to exit.
func (p *process) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %v", p.label, within)
	}
}

// proc is one example process, its log parsed as it arrives.
type proc struct {
	*process
	name string

	mu      sync.Mutex
	records []record
	other   []string // lines that are not JSON
}

// cluster is what processes need to reach the apiserver.
type cluster struct {
	kubeconfig string
	namespace  string
	lease      string
}

// startProc starts the example as pod name, with the lease guard on c.
func startProc(t *testing.T, c cluster, name string, extraEnv ...string) *proc {
	t.Helper()
	return startProcOf(t, monolith(t), c, name, extraEnv...)
}

// startProcOf is startProc with the example's binary bin.
func startProcOf(t *testing.T, bin string, c cluster, name string, extraEnv ...string) *proc {
	t.Helper()
	p := &proc{name: name}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"POD_NAME=" + name,
		"KUBECONFIG=" + c.kubeconfig,
		"LEADERJOB_GUARD=lease",
		"LEADERJOB_LEASE_NAMESPACE=" + c.namespace,
		"LEADERJOB_LEASE_NAME=" + c.lease,
		"LEADERJOB_LEASE_DURATION=" + leaseDuration.String(),
		"LEADERJOB_RENEW_DEADLINE=" + renewDeadline.String(),
		"LEADERJOB_RETRY_PERIOD=" + retryPeriod.String(),
		"LEADERJOB_LOG_FORMAT=json",
		"LEADERJOB_LOG_LEVEL=info",
		"LEADERJOB_HTTP_ADDR=",
		"HEARTBEAT_RATE=" + jobInterval.String(),
	}, extraEnv...)
	p.process = startProcess(t, name, cmd, p.add, p.log)
	return p
}

func (p *proc) add(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var r record
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &r) != nil {
		p.other = append(p.other, line)
		return
	}
	r.raw = line
	p.records = append(p.records, r)
}

func (p *proc) snapshot() []record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]record(nil), p.records...)
}

// log returns the process's output, trimmed of routine heartbeat records.
func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, r := range p.records {
		if r.Msg == "job run" && r.Job == "heartbeat" {
			continue
		}
		b.WriteString(r.raw)
		b.WriteByte('\n')
	}
	for _, l := range p.other {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// runs returns the process's heartbeat runs that called the job.
func (p *proc) runs() []record {
	var out []record
	for _, r := range p.snapshot() {
		if r.ran() {
			out = append(out, r)
		}
	}
	return out
}

// firstRanAfter returns the first heartbeat run of p scheduled after t0.
func (p *proc) firstRanAfter(t0 time.Time) (record, bool) {
	for _, r := range p.runs() {
		if r.ScheduledAt.After(t0) {
			return r, true
		}
	}
	return record{}, false
}

// leader waits until exactly one process is running heartbeats and
// returns it, with the others.
func leader(t *testing.T, ps []*proc, within time.Duration) (*proc, []*proc) {
	t.Helper()
	var leaders, others []*proc
	testutil.Eventually(t, within, "a single process runs heartbeats", func() bool {
		since := time.Now().Add(-3 * jobInterval)
		leaders, others = nil, nil
		for _, p := range ps {
			if _, ok := p.firstRanAfter(since); ok {
				leaders = append(leaders, p)
			} else {
				others = append(others, p)
			}
		}
		return len(leaders) == 1
	})
	return leaders[0], others
}

// newCluster creates a namespace and an admin kubeconfig for processes.
func newCluster(t *testing.T, lease string) cluster {
	t.Helper()
	c := cp.Get(t)
	ns, err := c.CreateNamespace(context.Background(), "e2e-")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := c.WriteKubeconfig(c.Config(), ns)
	if err != nil {
		t.Fatal(err)
	}
	return cluster{kubeconfig: kc, namespace: ns, lease: lease}
}

// startProcs starts n processes named <lease>-a, -b, ...
func startProcs(t *testing.T, c cluster, n int) []*proc {
	t.Helper()
	ps := make([]*proc, n)
	for i := range ps {
		ps[i] = startProc(t, c, fmt.Sprintf("%s-%c", c.lease, 'a'+i))
	}
	return ps
}
