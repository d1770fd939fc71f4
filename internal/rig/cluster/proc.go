package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one component of the cluster, its output in logs/NAME.log.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
	err  error         // how it exited, once done is closed
}

func (c *Cluster) start(name, bin string, args ...string) (*process, error) {
	logf, err := os.OpenFile(filepath.Join(c.dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = c.dir
	// Its own process group (a terminal's ^C reaches only the supervisor,
	// which stops the components in order), and killed with the supervisor.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("cluster: starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

// exited reports an error if p has exited.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v", p.name, p.err)
	default:
		return nil
	}
}

// stop sends SIGTERM, and SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// leftoverNames are the programs killLeftovers may kill.
var leftoverNames = []string{"containerd", "containerd-shim-runc-v2", "etcd", "kube-apiserver",
	"kube-controller-manager", "kube-scheduler", "kubelet"}

// killLeftovers kills what a cluster that died without stopping left
// behind: the cluster's own programs (containerd's shims and the
// components) with an argument under dir.
func killLeftovers(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if !slices.Contains(leftoverNames, filepath.Base(args[0])) {
			continue
		}
		if slices.ContainsFunc(args, func(a string) bool { return a == dir || strings.Contains(a, dir+"/") }) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// killTasks kills the processes of the containers whose tasks containerd
// left in its state under dir: a shim killed before its container (a
// cluster that died, or a stop that could not wait) leaves the container
// running, a pause process keeping its pod's network namespace alive.
// They are found by their cgroup, which runc names after the container.
func killTasks(dir string) {
	ids, _ := os.ReadDir(filepath.Join(dir, "containerd/state/io.containerd.runtime.v2.task/k8s.io"))
	for _, id := range ids {
		for _, cg := range []string{"/sys/fs/cgroup/pids/k8s.io", "/sys/fs/cgroup/k8s.io"} {
			b, err := os.ReadFile(filepath.Join(cg, id.Name(), "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
}

// unmountUnder lazily unmounts every mount point under dir, deepest first
// (pod volumes, container root filesystems, sandbox shm).
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	slices.Sort(points)
	var errs []error
	for _, p := range slices.Backward(points) {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// poll calls f every interval until it returns nil, ctx ends, or one of
// procs exits; the error says what was awaited and the last failure.
func poll(ctx context.Context, what string, interval time.Duration, procs []*process, f func(context.Context) error) error {
	var last error
	for {
		if last = f(ctx); last == nil {
			return nil
		}
		for _, p := range procs {
			if err := p.exited(); err != nil {
				return fmt.Errorf("cluster: waiting for %s: %w (see its log)", what, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}
