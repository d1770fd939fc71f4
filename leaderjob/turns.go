package leaderjob

import (
	"context"
	"sync"
)

// turns orders one job's scheduled fires and its catch-up runs, so that a
// new leader's catch-up never holds the scheduled fires of other jobs, and
// holds a job's own only while one of its catch-up runs is going:
//
//   - a scheduled fire that comes during a catch-up run of its job waits
//     for that run to end, then runs (never skipped as already_running
//     behind a catch-up);
//   - a catch-up run starts only when no scheduled fire of the job is
//     waiting or running, so that catch-up resumes after them.
//
// Scheduled fires among themselves keep Spring's rule: one that comes while
// the previous scheduled run goes is skipped as already_running.
type turns struct {
	mu       sync.Mutex
	catching bool          // a catch-up run of the job is going
	pending  int           // scheduled fires waiting or running
	gen      uint64        // counts scheduled fires' arrivals and ends
	changed  chan struct{} // closed (and dropped) at every change
}

// generation changes whenever a scheduled fire of the job arrives or ends:
// a catch-up that read it before reading the ledger, and finds it the same
// and the job not busy afterwards, knows its read holds every scheduled
// fire's claim and end.
func (t *turns) generation() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gen
}

// scheduled registers a scheduled fire of the job and waits while a
// catch-up run of it goes (or until ctx ends). The fire holds the job's
// catch-up off until it calls done.
func (t *turns) scheduled(ctx context.Context) (done func()) {
	t.mu.Lock()
	t.pending++
	t.gen++
	for t.catching && t.waitLocked(ctx) {
	}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.pending--
		t.gen++
		t.signalLocked()
		t.mu.Unlock()
	}
}

// catchUp waits until no scheduled fire of the job is waiting or running,
// and marks a catch-up run as going until done is called. ok is false when
// ctx ended first.
func (t *turns) catchUp(ctx context.Context) (done func(), ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ctx.Err() != nil {
		return nil, false
	}
	for t.pending > 0 {
		if !t.waitLocked(ctx) {
			return nil, false
		}
	}
	t.catching = true
	return func() {
		t.mu.Lock()
		t.catching = false
		t.signalLocked()
		t.mu.Unlock()
	}, true
}

// busy reports whether a scheduled fire of the job is waiting or running.
func (t *turns) busy() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending > 0
}

// waitLocked waits, with t.mu released, for the next change or the end of
// ctx; it reports whether ctx is still going.
func (t *turns) waitLocked(ctx context.Context) bool {
	if t.changed == nil {
		t.changed = make(chan struct{})
	}
	ch := t.changed
	t.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	t.mu.Lock()
	return ctx.Err() == nil
}

func (t *turns) signalLocked() {
	if t.changed != nil {
		close(t.changed)
		t.changed = nil
	}
}
