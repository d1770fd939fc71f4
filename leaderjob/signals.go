package leaderjob

import (
	"sync"
	"sync/atomic"
)

// signals tells leaderjobtest what the scheduler is doing, so that it can
// move a fake clock from one fire to the next and know when every run due
// so far has completed, without polling.
type signals struct {
	started, finished atomic.Uint64 // gocron's calls of the task, begun and returned
	busy              atomic.Int64  // work that changes the scheduler, going on beside the fires

	mu     sync.Mutex
	notify func() // called after every change of started or finished
}

func (s *signals) fireStarted()  { s.started.Add(1); s.changed() }
func (s *signals) fireFinished() { s.finished.Add(1); s.changed() }
func (s *signals) workBegan()    { s.busy.Add(1); s.changed() }
func (s *signals) workEnded()    { s.busy.Add(-1); s.changed() }

func (s *signals) changed() {
	s.mu.Lock()
	fn := s.notify
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// immediateFires counts the fires gocron makes at start without a timer:
// fixed-rate, fixed-delay and one-shot jobs without an initial delay.
func (a *App) immediateFires() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, j := range a.order {
		if s := j.schedule; !s.IsDisabled() && s.kind != kindCron && s.delay <= 0 {
			n++
		}
	}
	return n
}

// idleTimers counts the timers the scheduler keeps while no run is due: one
// per enabled recurring job (but none for a fixed-delay job while it runs),
// plus one per delayed one-shot job that has not fired.
func (a *App) idleTimers(fired func(job string) bool) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, j := range a.order {
		switch s := j.schedule; {
		case s.IsDisabled():
		case s.kind == kindOnce:
			if s.delay > 0 && !fired(j.name) {
				n++
			}
		case s.kind == kindFixedDelay && j.calling.Load():
			// its next timer is set when the run completes
		default:
			n++
		}
	}
	return n
}

// calling reports whether the named job's function is executing.
func (a *App) calling(name string) bool {
	a.mu.Lock()
	j := a.jobs[name]
	a.mu.Unlock()
	return j != nil && j.calling.Load()
}

// barrier returns once gocron's scheduler loop has handled every message
// sent to it before the call: its loop handles one message at a time, and
// listing the jobs is a message too.
func (a *App) barrier() {
	a.mu.Lock()
	sched := a.sched
	a.mu.Unlock()
	if sched != nil {
		sched.Jobs()
	}
}
