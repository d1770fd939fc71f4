package arena

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// restartDelay is how long a process that exited on its own stays down
// before it is started again, as a kubelet restarts a container
// (restartPolicy: Always; its first restart is immediate, later ones back
// off from 10s).
const restartDelay = time.Second

// proc is one OS process of a replica. When it exits without having been
// told to, it is started again after restartDelay, under the same name.
type proc struct {
	label string
	spawn func() *exec.Cmd // a fresh command for each start
	line  func([]byte)     // called with each line of its output
	out   io.Writer        // its output, for the results folder

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process has exited
	stopping bool          // the bench ended it: no restart
	exits    []string      // how each start ended
	tail     [][]byte      // its last lines of output
}

// start starts the process. Its output goes, line by line, to p.line.
func (p *proc) start() error {
	cmd := p.spawn()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", p.label, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	go p.read(pr)
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		p.exited(err)
		close(done)
	}()
	return nil
}

func (p *proc) read(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		b := s.Bytes()
		if p.out != nil {
			p.mu.Lock()
			_, _ = p.out.Write(append(bytes.Clone(b), '\n'))
			p.mu.Unlock()
		}
		p.line(b)
		p.mu.Lock()
		p.tail = append(p.tail, bytes.Clone(b))
		if len(p.tail) > 20 {
			p.tail = p.tail[1:]
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// exited notes how the process ended, and restarts it unless the bench
// ended it.
func (p *proc) exited(err error) {
	p.mu.Lock()
	how := "exit status 0"
	if err != nil {
		how = err.Error()
	}
	p.exits = append(p.exits, how)
	restart := !p.stopping
	p.mu.Unlock()
	if !restart {
		return
	}
	go func() {
		time.Sleep(restartDelay)
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if !stopping {
			_ = p.start()
		}
	}()
}

// signal sends sig to the running process.
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// end stops the process for good: sig (SIGTERM for a graceful stop), then
// SIGKILL if it has not exited within grace. It returns once the process
// has exited.
func (p *proc) end(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	p.stopping = true
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return
	}
	p.signal(syscall.SIGCONT) // a stopped process cannot act on SIGTERM
	p.signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		p.signal(syscall.SIGKILL)
		<-done
	}
}

// exitCount is how many times the process has exited.
func (p *proc) exitCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.exits)
}

// lastWords is how the process last ended and its last lines of output.
func (p *proc) lastWords() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b bytes.Buffer
	if n := len(p.exits); n > 0 {
		fmt.Fprintf(&b, "%s: %s", p.label, p.exits[n-1])
	}
	for _, l := range p.tail {
		b.WriteString("\n  ")
		b.Write(l)
	}
	return b.String()
}
