package leaderjob

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob/internal/ops"
)

// leadership tracks what this replica knows about the leader from the App's
// guard: its answers (before runs and to probes), the changes it reports,
// and the end of the term it last said this replica holds. It keeps
// leaderjob_is_leader up to date between runs, and logs one record per
// change of holder.
type leadership struct {
	self    string
	logger  *slog.Logger
	metrics *ops.Metrics
	guard   guard.Guard
	notices *ops.Notices

	onLead   func()      // called when a term of this replica begins; must not block
	answered atomic.Bool // the guard has given at least one answer
	mu       sync.Mutex
	holder   string
	leads    bool
	lost     <-chan struct{} // the Lost channel of the term being watched
}

// recording wraps the App's guard so that every answer updates the state.
func (l *leadership) recording(g guard.Guard) guard.Guard {
	l.guard = g
	if n, ok := g.(guard.ChangeNotifier); ok {
		n.OnChange(func(c guard.Change) {
			l.changed(c.Holder, c.Epoch, c.HasEpoch)
			// A change may open or end a term: ask the guard for the new
			// term's Lost channel (on another goroutine: a guard may call
			// OnChange functions from inside Check).
			go l.probe(context.Background())
		})
	}
	return guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) {
		d, err := g.Check(ctx)
		l.record(d, err)
		return d, err
	})
}

// probe asks the guard on behalf of an endpoint or a change; the answer
// updates the state but is not a run's check (no latency metric).
func (l *leadership) probe(ctx context.Context) (guard.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, guard.DefaultCheckTimeout)
	defer cancel()
	d, err := l.guard.Check(ctx)
	l.record(d, err)
	return d, err
}

func (l *leadership) record(d guard.Decision, err error) {
	l.answered.Store(true)
	leads := err == nil && d.Leader
	l.mu.Lock()
	began := leads && (!l.leads || (d.Lost != nil && d.Lost != l.lost))
	l.leads = leads
	l.metrics.SetLeader(leads)
	watch := leads && d.Lost != nil && d.Lost != l.lost
	if watch {
		l.lost = d.Lost
	}
	l.mu.Unlock()
	if began && l.onLead != nil {
		l.onLead()
	}
	if watch {
		lost := d.Lost
		go func() {
			<-lost
			l.mu.Lock()
			if l.lost == lost {
				l.leads, l.lost = false, nil
				l.metrics.SetLeader(false)
			}
			l.mu.Unlock()
		}()
	}
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
	if holder != l.self {
		l.leads = false
		l.metrics.SetLeader(false)
	}
	l.mu.Unlock()

	l.metrics.Transition()
	attrs := []slog.Attr{
		slog.String("previous", previous), slog.String("holder", holder),
		slog.String("self", l.self), slog.Bool("is_leader", holder == l.self),
	}
	if hasEpoch {
		attrs = append(attrs, slog.Int64("epoch", epoch))
	}
	l.logger.LogAttrs(context.Background(), slog.LevelInfo, "leader changed", attrs...)
	if holder == l.self {
		msg := "this replica (" + l.self + ") became the leader"
		if previous != "" {
			msg += ", after " + previous
		}
		l.notices.Notify(NoticeLeaderElected, "", msg)
	}
}
