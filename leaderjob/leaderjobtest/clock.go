package leaderjobtest

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// trackingClock is the clock the App runs on: the fake clock, plus a record
// of the timers made with AfterFunc (the scheduler's timers) so that the
// harness can move time from one timer to the next, and of the timer
// callbacks that have run.
type trackingClock struct {
	*clockwork.FakeClock
	changed func() // called after every change below

	mu      sync.Mutex
	live    map[*trackedTimer]time.Time // deadline of each pending timer
	running int                         // callbacks begun and not returned
	fired   uint64                      // callbacks returned
}

func newTrackingClock(fake *clockwork.FakeClock, changed func()) *trackingClock {
	return &trackingClock{FakeClock: fake, changed: changed, live: map[*trackedTimer]time.Time{}}
}

type trackedTimer struct {
	c *trackingClock
	t clockwork.Timer
}

func (c *trackingClock) AfterFunc(d time.Duration, f func()) clockwork.Timer {
	tt := &trackedTimer{c: c}
	c.mu.Lock()
	c.live[tt] = c.Now().Add(d)
	c.mu.Unlock()
	tt.t = c.FakeClock.AfterFunc(d, func() {
		c.mu.Lock()
		delete(c.live, tt)
		c.running++
		c.mu.Unlock()
		defer c.update(func() { c.running--; c.fired++ })
		f()
	})
	c.changed()
	return tt
}

func (c *trackingClock) update(fn func()) {
	c.mu.Lock()
	fn()
	c.mu.Unlock()
	c.changed()
}

func (t *trackedTimer) Chan() <-chan time.Time { return t.t.Chan() }

func (t *trackedTimer) Stop() bool {
	stopped := t.t.Stop()
	if stopped {
		t.c.update(func() { delete(t.c.live, t) })
	}
	return stopped
}

func (t *trackedTimer) Reset(d time.Duration) bool {
	t.c.update(func() { t.c.live[t] = t.c.Now().Add(d) })
	return t.t.Reset(d)
}

// state reports the timers that are set and not yet due, the earliest
// deadline among them, the callbacks that are due or running (a due timer's
// callback starts on a goroutine of its own) and the callbacks that have
// returned.
func (c *trackingClock) state() (pending int, next time.Time, busy int, fired uint64) {
	now := c.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	busy = c.running
	for _, at := range c.live {
		if !at.After(now) {
			busy++
			continue
		}
		pending++
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return pending, next, busy, c.fired
}
