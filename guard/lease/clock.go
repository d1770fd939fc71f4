package lease

import (
	"time"

	"k8s.io/utils/clock"
)

// afterFunc calls f in a goroutine of its own once d has passed on c. Unlike
// c.AfterFunc alone, it never calls f while the clock holds its own lock (a
// fake clock calls timer functions from Step), so f may read the clock; and
// it empties the timer's channel, which a fake clock fills on every firing
// and would block on when a reset timer fires again.
func afterFunc(c clock.WithDelayedExecution, d time.Duration, f func()) clock.Timer {
	ready := make(chan struct{})
	var t clock.Timer
	t = c.AfterFunc(d, func() {
		<-ready
		if ch := t.C(); ch != nil {
			select {
			case <-ch:
			default:
			}
		}
		go f()
	})
	close(ready)
	return t
}
