package arena

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// backend is a replica's proxy to the server it depends on (the apiserver
// or Redis): it counts the replica's requests and can cut it off.
type backend interface {
	Requests() int64
	SetCut(bool)
	Close() error
}

// Replica is one member of a contender's fleet: the processes of one pod
// (the app, and for the sidecar contender the elector before it) and its
// proxy.
type Replica struct {
	Name    string
	Release string

	procs []*proc // in start order; a pod's containers stop in reverse
	proxy backend
	ready []string // its readiness URLs: ready when all answer 200

	mu      sync.Mutex
	started time.Time
	ended   time.Time // zero while it runs
}

// start starts the replica's processes in order.
func (r *Replica) start() error {
	r.mu.Lock()
	r.started = time.Now()
	r.mu.Unlock()
	for _, p := range r.procs {
		if err := p.start(); err != nil {
			return err
		}
	}
	return nil
}

// span is when the replica ran; end is zero while it runs.
func (r *Replica) span() (start, end time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started, r.ended
}

func (r *Replica) alive() bool {
	_, end := r.span()
	return end.IsZero()
}

// Ready reports whether every readiness URL of the replica answers 200.
func (r *Replica) Ready(ctx context.Context) error {
	for _, u := range r.ready {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			cancel()
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", u, resp.Status)
		}
	}
	return nil
}

// crashLoop is how many times a process may exit before it is ready
// before its replica is given up as unable to start (a start-up error).
const crashLoop = 3

// WaitReady waits until the replica is ready. It fails early when one of
// its processes keeps exiting before that.
func (r *Replica) WaitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		for _, p := range r.procs {
			if p.exitCount() >= crashLoop {
				return &StartError{Replica: r.Name, Detail: p.lastWords()}
			}
		}
		err := r.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %s not ready within %v: %v", r.Name, within, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// StartError is a replica whose process exited before it was ready.
type StartError struct {
	Replica string
	Detail  string
}

func (e *StartError) Error() string {
	return fmt.Sprintf("replica %s exited before it was ready: %s", e.Replica, e.Detail)
}

// Signal sends sig to every process of the replica at once (SIGSTOP,
// SIGCONT: a frozen node).
func (r *Replica) Signal(sig syscall.Signal) {
	for _, p := range r.procs {
		p.signal(sig)
	}
}

// Terminate stops the replica as a kubelet deletes a pod: SIGTERM to each
// container, the app first and a sidecar after it has exited, with a grace
// period before SIGKILL. It returns when all have exited.
func (r *Replica) Terminate(grace time.Duration) {
	r.markEnded()
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].end(syscall.SIGTERM, grace)
	}
}

// Kill SIGKILLs every process of the replica at once.
func (r *Replica) Kill() {
	r.markEnded()
	var wg sync.WaitGroup
	for _, p := range r.procs {
		wg.Go(func() { p.end(syscall.SIGKILL, time.Minute) })
	}
	wg.Wait()
}

func (r *Replica) markEnded() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended.IsZero() {
		r.ended = time.Now()
	}
}

// freeAddr returns a loopback address with a port that is free now, below
// Linux's ephemeral range (32768 and up), so that no outgoing connection
// of the many processes takes it before the process it is for listens.
func freeAddr() (string, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := l.Addr().String()
		_ = l.Close()
		return addr, nil
	}
	return "", fmt.Errorf("no free port on 127.0.0.1 between 20000 and 32000")
}
