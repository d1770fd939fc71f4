package leaderjob

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// leadership tracks what this replica knows about the leader: the last
// answer of the App's guard and the changes it reported. It logs one record
// per change of holder and feeds the metrics.
type leadership struct {
	self    string
	logger  *slog.Logger
	metrics *metrics

	answered atomic.Bool // the guard has given at least one answer
	mu       sync.Mutex
	holder   string
}

// observe wraps the App's guard so that every answer is recorded.
func (l *leadership) observe(g guard.Guard) guard.Guard {
	if n, ok := g.(guard.ChangeNotifier); ok {
		n.OnChange(func(c guard.Change) { l.changed(c.Holder, c.Epoch, c.HasEpoch) })
	}
	return guard.Func(func(ctx context.Context) (guard.Decision, error) {
		start := time.Now()
		d, err := g.Check(ctx)
		l.answer(d, err, time.Since(start))
		return d, err
	})
}

func (l *leadership) answer(d guard.Decision, err error, took time.Duration) {
	l.metrics.observeCheck(d, err, took)
	l.answered.Store(true)
	if err == nil {
		holder := d.Holder
		if d.Leader && holder == "" {
			holder = l.self
		}
		l.changed(holder, d.Epoch, d.HasEpoch)
	}
}

func (l *leadership) changed(holder string, epoch int64, hasEpoch bool) {
	l.mu.Lock()
	previous := l.holder
	if holder == previous {
		l.mu.Unlock()
		return
	}
	l.holder = holder
	l.mu.Unlock()

	l.metrics.transitions.Inc()
	attrs := []slog.Attr{
		slog.String("previous", previous), slog.String("holder", holder),
		slog.String("self", l.self), slog.Bool("is_leader", holder == l.self),
	}
	if hasEpoch {
		attrs = append(attrs, slog.Int64("epoch", epoch))
	}
	l.logger.LogAttrs(context.Background(), slog.LevelInfo, "leader changed", attrs...)
}
