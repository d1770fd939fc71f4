package ociimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/internal/testutil"
)

// containerdTools returns the paths of ctr and containerd, or ends the
// test: a skip, or a failure when CI is "true", where a missing tool must
// not pass unnoticed.
func containerdTools(t *testing.T) (ctr, containerd string) {
	t.Helper()
	stop := t.Skipf
	if os.Getenv("CI") == "true" {
		stop = t.Fatalf
	}
	var paths []string
	for _, name := range []string{"ctr", "containerd", "containerd-shim-runc-v2", "runc"} {
		path, err := exec.LookPath(name)
		if err != nil {
			stop("%s not found: %v; install Debian's containerd package (hack/test-deps.sh does; make test runs it)", name, err)
		}
		paths = append(paths, path)
	}
	if os.Geteuid() != 0 {
		stop("a private containerd needs root (uid %d)", os.Geteuid())
	}
	return paths[0], paths[1]
}

// testContainerd is a containerd of the test's own, with its state under
// a temporary directory.
type testContainerd struct {
	t       *testing.T
	ctr     string
	address string
}

// startContainerd starts containerd with a configuration of its own (root,
// state and sockets under t.TempDir(), no CRI plugin) and stops it when the
// test ends.
func startContainerd(t *testing.T) *testContainerd {
	t.Helper()
	ctr, containerd := containerdTools(t)
	dir := t.TempDir()
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), filepath.Join(dir, "c.sock"),
		filepath.Join(dir, "c.sock.ttrpc"), filepath.Join(dir, "opt"))
	cfgFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(containerd, "--config", cfgFile)
	cmd.Stdout, cmd.Stderr = log, log
	// Should the test binary die (a timeout panics), containerd goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &testContainerd{t: t, ctr: ctr, address: filepath.Join(dir, "c.sock")}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("containerd log:\n%s", b)
			}
		}
	})
	testutil.EventuallyNoError(t, 30*time.Second, "containerd answers on "+c.address, func() error {
		_, err := c.run(5*time.Second, "version")
		return err
	})
	return c
}

// command returns a ctr command in namespace k8s.io against c.
func (c *testContainerd) command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, c.ctr, append([]string{"--address", c.address, "-n", "k8s.io"}, args...)...)
}

// run runs ctr with args and returns its output.
func (c *testContainerd) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := c.command(ctx, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// The archives import into containerd 1.6 under their references, and the
// pause and monolith images run there (runc) as their users, and stop on
// SIGTERM with exit status 0.
func TestContainerdImportsAndRuns(t *testing.T) {
	c := startContainerd(t)
	var files, refs []string
	for _, name := range []string{"pause", "monolith", "elector"} {
		file, res := image(t, name)
		files, refs = append(files, file), append(refs, res.Ref)
	}
	for _, file := range files {
		out, err := c.run(time.Minute, "images", "import", file)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("import %s: %s", filepath.Base(file), strings.TrimSpace(out))
	}
	list, err := c.run(time.Minute, "images", "ls")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ctr images ls:\n%s", list)
	for _, ref := range refs {
		if !strings.Contains(list, "\n"+ref+" ") {
			t.Errorf("ctr images ls does not list %s", ref)
		}
	}
	if t.Failed() {
		return
	}

	t.Run("pause", func(t *testing.T) {
		task := c.start(t, refs[0], "ociimage-pause-"+strconv.Itoa(os.Getpid()))
		if uid := task.uid(t); uid != "65535" {
			t.Errorf("pause runs as uid %s, want 65535", uid)
		}
		task.stop(t)
	})
	t.Run("monolith", func(t *testing.T) {
		task := c.start(t, refs[1], "ociimage-monolith-"+strconv.Itoa(os.Getpid()), "--env", "LEADERJOB_GUARD=always")
		task.waitOutput(t, "msg=started")
		if uid := task.uid(t); uid != "65532" {
			t.Errorf("monolith runs as uid %s, want 65532", uid)
		}
		task.stop(t)
		task.waitOutput(t, "msg=stopped")
	})
}

// task is a container run by "ctr run --rm".
type task struct {
	c      *testContainerd
	id     string
	cmd    *exec.Cmd
	done   chan struct{} // closed when ctr run has ended, with err set
	err    error
	output testutil.LogBuffer
}

func (tk *task) out() string { return tk.output.String() }

// start runs ref as container id and waits until its task runs.
func (c *testContainerd) start(t *testing.T, ref, id string, flags ...string) *task {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	args := append(append([]string{"run", "--rm"}, flags...), ref, id)
	tk := &task{c: c, id: id, cmd: c.command(ctx, args...), done: make(chan struct{})}
	tk.cmd.Stdout, tk.cmd.Stderr = &tk.output, &tk.output
	if err := tk.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		tk.err = tk.cmd.Wait()
		cancel()
		close(tk.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tk.done:
		default: // the test failed on the way: leave nothing running
			_, _ = c.run(time.Minute, "task", "kill", "-s", "SIGKILL", id)
			<-tk.done
			_, _ = c.run(time.Minute, "containers", "rm", id)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", id, tk.out())
		}
	})
	testutil.Eventually(t, time.Minute, "task "+id+" running", func() bool {
		select {
		case <-tk.done:
			t.Fatalf("ctr %s ended: %v\n%s", strings.Join(args, " "), tk.err, tk.out())
		default:
		}
		ls, err := c.run(10*time.Second, "task", "ls")
		return err == nil && strings.Contains(ls, "RUNNING") && tk.pid(ls) != ""
	})
	return tk
}

// pid returns the task's pid from "ctr task ls" output.
func (tk *task) pid(ls string) string {
	for _, line := range strings.Split(ls, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == tk.id && f[2] == "RUNNING" {
			return f[1]
		}
	}
	return ""
}

// uid returns the real user ID the task's process runs as.
func (tk *task) uid(t *testing.T) string {
	t.Helper()
	ls, err := tk.c.run(10*time.Second, "task", "ls")
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + tk.pid(ls) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
			return strings.Fields(ids)[0]
		}
	}
	t.Fatal("no Uid line in /proc/PID/status")
	return ""
}

func (tk *task) waitOutput(t *testing.T, want string) {
	t.Helper()
	testutil.EventuallyNoError(t, time.Minute, fmt.Sprintf("%s prints %q", tk.id, want), func() error {
		if out := tk.out(); !strings.Contains(out, want) {
			return fmt.Errorf("output:\n%s", out)
		}
		return nil
	})
}

// stop sends SIGTERM to the task and checks ctr run ends with status 0.
func (tk *task) stop(t *testing.T) {
	t.Helper()
	// As in TestBuildPause: the program may still be starting.
	time.Sleep(300 * time.Millisecond)
	if _, err := tk.c.run(time.Minute, "task", "kill", "-s", "SIGTERM", tk.id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tk.done:
		if tk.err != nil {
			t.Errorf("%s after SIGTERM: %v, want exit status 0", tk.id, tk.err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s still running a minute after SIGTERM", tk.id)
	}
}
