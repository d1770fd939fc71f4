package sidecar

import (
	"context"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// answer is the outcome of one request to the sidecar.
type answer struct {
	ready   chan struct{} // closed when leader and err are set
	started time.Time     // when the request was sent
	gen     uint64        // the generation it belongs to (see drop)
	leader  wire.Leader
	err     error
}

// shared runs at most one request to the sidecar at a time, hands its answer
// to every caller that asked while it was in flight, and reuses that answer
// for the callers that come within window of its start.
type shared struct {
	window time.Duration
	fetch  func(context.Context) (wire.Leader, error)
	after  func(*answer) // called with each answer before it is handed out

	mu     sync.Mutex
	last   *answer // the latest complete answer
	flight *answer // the request in flight, if any
	gen    uint64  // bumped by drop
}

// drop forgets the cached answer and detaches the request in flight, so
// that the next get asks the sidecar anew: the sidecar has said that its
// answer changed. Callers already waiting for the detached request still
// get its answer.
func (s *shared) drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	s.last, s.flight = nil, nil
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
		a = &answer{ready: make(chan struct{}), started: time.Now(), gen: s.gen}
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

// current reports whether a belongs to the current generation: no change
// was reported since its request was sent.
func (s *shared) current(a *answer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return a.gen == s.gen
}

func (s *shared) run(ctx context.Context, a *answer) {
	a.leader, a.err = s.fetch(ctx)
	s.mu.Lock()
	current := a.gen == s.gen
	s.mu.Unlock()
	if current && s.after != nil { // a dropped answer may predate the change
		s.after(a)
	}
	s.mu.Lock()
	if a.gen == s.gen { // not dropped while in flight
		s.flight, s.last = nil, a
	}
	s.mu.Unlock()
	close(a.ready)
}
