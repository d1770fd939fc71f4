// Package guardtest provides a fake [guard.Guard] for unit tests of jobs and
// of code built on leaderjob.
//
// A test switches the fake between leader, follower and error at any moment,
// including while a job is running; losing leadership closes the current
// term's Lost channel, so a running job's context is cancelled just as with
// the Lease guard. Every Check is recorded.
package guardtest

import (
	"context"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
)

// DefaultSelf is the identity a Guard reports for this replica unless
// WithSelf says otherwise.
const DefaultSelf = "self"

// Guard is a settable fake. The zero value is not usable; call New.
// All methods are safe for concurrent use.
type Guard struct {
	mu        sync.Mutex
	self      string
	leader    bool
	holder    string
	err       error
	delay     time.Duration
	epoch     int64
	term      chan struct{}
	checks    []Check
	started   bool
	released  bool
	unhealthy error
}

// Check is one recorded answer.
type Check struct {
	At       time.Time
	Decision guard.Decision
	Err      error
}

// Option configures New.
type Option func(*Guard)

// WithSelf sets this replica's identity (default DefaultSelf).
func WithSelf(id string) Option { return func(g *Guard) { g.self = id } }

// New returns a fake that starts as a follower with no known leader; call
// SetLeader to make it lead. Use Leader for one that starts as the leader.
func New(opts ...Option) *Guard {
	g := &Guard{self: DefaultSelf}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Leader returns a fake that is the leader from the start.
func Leader(opts ...Option) *Guard {
	g := New(opts...)
	g.SetLeader()
	return g
}

// Follower returns a fake that follows holder from the start.
func Follower(holder string, opts ...Option) *Guard {
	g := New(opts...)
	g.SetFollower(holder)
	return g
}

var _ interface {
	guard.Guard
	guard.Starter
	guard.Releaser
	guard.HealthChecker
} = (*Guard)(nil)

// SetLeader makes this replica the leader. If it did not lead already, a new
// term begins: the epoch grows by one and a new Lost channel is handed out.
func (g *Guard) SetLeader() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.err = nil
	g.holder = g.self
	if g.leader {
		return
	}
	g.leader = true
	g.epoch++
	g.term = make(chan struct{})
}

// SetFollower makes this replica a follower of holder ("" for unknown). A
// running job that was started under the ended term sees its context
// cancelled with cause guard.ErrLeadershipLost.
func (g *Guard) SetFollower(holder string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endTermLocked()
	g.err = nil
	g.holder = holder
}

// LoseLeadership is SetFollower(""): the term ends, nobody is known to lead.
func (g *Guard) LoseLeadership() { g.SetFollower("") }

// SetError makes Check fail with err until the next SetLeader or
// SetFollower; it ends any current term.
func (g *Guard) SetError(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endTermLocked()
	g.err = err
}

// SetDelay makes every Check wait d (or until its context ends) before it
// answers, to simulate a slow source.
func (g *Guard) SetDelay(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.delay = d
}

// SetUnhealthy makes Healthy return err (nil restores health).
func (g *Guard) SetUnhealthy(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unhealthy = err
}

func (g *Guard) endTermLocked() {
	if g.leader {
		close(g.term)
		g.term = nil
		g.leader = false
	}
}

// Check answers with the current state and records the answer.
func (g *Guard) Check(ctx context.Context) (guard.Decision, error) {
	g.mu.Lock()
	delay := g.delay
	g.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return g.record(guard.Decision{}, ctx.Err())
		}
	}

	g.mu.Lock()
	d, err := g.answerLocked()
	g.mu.Unlock()
	return g.record(d, err)
}

func (g *Guard) answerLocked() (guard.Decision, error) {
	switch {
	case g.released:
		return guard.Decision{Self: g.self}, guard.ErrReleased
	case g.err != nil:
		return guard.Decision{}, g.err
	case g.leader:
		return guard.Decision{
			Leader: true, Holder: g.self, Self: g.self,
			Epoch: g.epoch, HasEpoch: true, Lost: g.term,
		}, nil
	default:
		return guard.Decision{Holder: g.holder, Self: g.self, Epoch: g.epoch, HasEpoch: true}, nil
	}
}

func (g *Guard) record(d guard.Decision, err error) (guard.Decision, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.checks = append(g.checks, Check{At: time.Now(), Decision: d, Err: err})
	return d, err
}

// Checks returns a copy of every answer given so far, oldest first.
func (g *Guard) Checks() []Check {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]Check(nil), g.checks...)
}

// Epoch returns the current epoch: the number of terms begun so far.
func (g *Guard) Epoch() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.epoch
}

// Start records that the guard was started.
func (g *Guard) Start(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.started = true
	return nil
}

// Release ends any term and makes every later Check fail with
// guard.ErrReleased, as a real guard does after handing leadership over.
func (g *Guard) Release(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endTermLocked()
	g.released = true
	return nil
}

// Started reports whether Start was called.
func (g *Guard) Started() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started
}

// Released reports whether Release was called.
func (g *Guard) Released() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.released
}

// Healthy returns the error set by SetUnhealthy.
func (g *Guard) Healthy() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.unhealthy
}
