package lease

import (
	"slices"
	"sync"

	"github.com/leaderjob/leaderjob/guard"
)

// relay hands changes of holder to the listeners registered with OnChange,
// in the order they were queued, from one goroutine (the guard's
// supervisor), never while the guard's lock is held. A listener sees only
// changes queued after it was added.
type relay struct {
	mu        sync.Mutex
	listeners []func(guard.Change)
	pending   []delivery
	notify    chan struct{} // signalled when pending is not empty
}

type delivery struct {
	change guard.Change
	to     []func(guard.Change)
}

func newRelay() *relay { return &relay{notify: make(chan struct{}, 1)} }

func (r *relay) add(fn func(guard.Change)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, fn)
}

// queue queues c for the listeners registered now.
func (r *relay) queue(c guard.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.listeners) == 0 {
		return
	}
	r.pending = append(r.pending, delivery{change: c, to: slices.Clone(r.listeners)})
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// deliver calls the listeners for every queued change.
func (r *relay) deliver() {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, d := range batch {
		for _, fn := range d.to {
			fn(d.change)
		}
	}
}
