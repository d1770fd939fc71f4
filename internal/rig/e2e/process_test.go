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

// proc is one example process, its log parsed as it arrives.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

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
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(monolith(t))
	p.cmd.Env = append([]string{
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
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		s := bufio.NewScanner(out)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			p.add(s.Text())
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("log of %s:\n%s", p.name, p.log())
		}
	})
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

func (p *proc) signal(t *testing.T, sig syscall.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", p.name, sig, err)
	}
	return at
}

// waitExit waits for the process to exit.
func (p *proc) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %v", p.name, within)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for ctx.Err() == nil {
		since := time.Now().Add(-3 * jobInterval)
		var leaders, others []*proc
		for _, p := range ps {
			if _, ok := p.firstRanAfter(since); ok {
				leaders = append(leaders, p)
			} else {
				others = append(others, p)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], others
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no single process ran heartbeats within %v", within)
	return nil, nil
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
