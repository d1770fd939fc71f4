package sidecar

import (
	"context"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/sidecarclient"
)

// answer is the outcome of one request to the sidecar.
type answer struct {
	ready   chan struct{} // closed when leader and err are set
	started time.Time     // when the request was sent
	leader  sidecarclient.Leader
	err     error
}

// shared runs at most one request to the sidecar at a time, hands its answer
// to every caller that asked while it was in flight, and reuses that answer
// for the callers that come within window of its start.
type shared struct {
	window time.Duration
	fetch  func(context.Context) (sidecarclient.Leader, error)
	after  func(*answer) // called with each answer before it is handed out

	mu     sync.Mutex
	last   *answer // the latest complete answer
	flight *answer // the request in flight, if any
}

// get returns an answer no older than the window, or waits for one. It
// returns early with an error wrapping ctx.Err() when ctx ends first.
//
// The request runs on its own goroutine under a context that keeps ctx's
// values but not its cancellation, so that one caller giving up does not
// fail the others. The client's own time limits bound it.
func (s *shared) get(ctx context.Context) (*answer, error) {
	s.mu.Lock()
	if a := s.last; a != nil && s.window > 0 && time.Since(a.started) < s.window {
		s.mu.Unlock()
		return a, nil
	}
	a := s.flight
	if a == nil {
		a = &answer{ready: make(chan struct{}), started: time.Now()}
		s.flight = a
		go s.run(context.WithoutCancel(ctx), a)
	}
	s.mu.Unlock()

	select {
	case <-a.ready:
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *shared) run(ctx context.Context, a *answer) {
	a.leader, a.err = s.fetch(ctx)
	if s.after != nil {
		s.after(a)
	}
	s.mu.Lock()
	s.flight, s.last = nil, a
	s.mu.Unlock()
	close(a.ready)
}
