package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/sidecarclient"
	"github.com/leaderjob/leaderjob/wire"
)

// ErrIdentityMismatch reports an answer whose is_leader contradicts the
// name comparison: the sidecar's identity is not this pod's name. It wraps
// guard.ErrUnavailable, so the run is skipped.
var ErrIdentityMismatch = errors.New("the sidecar's identity is not this pod's name")

// crossCheck compares the answer's is_leader, when it has one, with the
// name comparison. They disagree only when the sidecar elects under
// another identity than the pod's name (its --id), and then no pod's jobs
// may be trusted to run: fail closed, loudly.
func (g *Guard) crossCheck(l wire.Leader) error {
	if !l.HasIsLeader || l.IsLeader == (l.Name == g.self) {
		return nil
	}
	var what string
	if l.IsLeader {
		what = fmt.Sprintf("the sidecar says it leads as %q, but this pod is %q", l.Name, g.self)
	} else {
		what = fmt.Sprintf("the sidecar names this pod (%q) leader but says it does not lead itself (its identity is %q)", g.self, l.Self)
	}
	return fmt.Errorf("sidecar %s: %w: %s: give the leader-elector --id=$(POD_NAME) from the same downward API field as POD_NAME: %w",
		g.client.URL(), ErrIdentityMismatch, what, guard.ErrUnavailable)
}

// Start follows the sidecar's change stream when it offers one
// (leaderjob-elector's GET /sse): on every event the cached answer is
// dropped, so that the next Check asks again instead of reusing an answer
// for the rest of the cache window, and OnChange listeners hear of the
// change at once. A sidecar without a stream (the original image answers
// /sse with its plain JSON answer) is detected on the first attempt, and
// the guard then works exactly as without Start. Start returns after the
// first attempt (at most the client's MaxCallDuration); the stream is
// followed until ctx ends, and reopened when it breaks.
func (g *Guard) Start(ctx context.Context) error {
	g.streamMu.Lock()
	started := g.started
	g.started = true
	g.streamMu.Unlock()
	if started {
		return errors.New("sidecar guard: started twice")
	}
	probed := make(chan struct{})
	go g.follow(ctx, probed)
	// Wait for the first attempt, so that the first runs already have the
	// stream when the sidecar offers one; never longer than one attempt.
	select {
	case <-probed:
	case <-ctx.Done():
	case <-time.After(g.client.MaxCallDuration()):
	}
	return nil
}

const (
	streamRetryMin = 200 * time.Millisecond
	streamRetryMax = 5 * time.Second
)

// follow follows the stream; probed is closed once the first attempt has
// delivered its first event or failed.
func (g *Guard) follow(ctx context.Context, probed chan struct{}) {
	var once sync.Once
	done := func() { once.Do(func() { close(probed) }) }
	defer done()
	wait := streamRetryMin
	for ctx.Err() == nil {
		opened := time.Now()
		err := g.client.Watch(ctx, func(l wire.Leader, err error) {
			g.event(l, err)
			g.observe(&answer{leader: l, err: guardError(err)})
			done()
		})
		done()
		g.streamEnded()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, sidecarclient.ErrNoStream):
			g.debug("the sidecar offers no change stream; answers are reused for the cache window", err)
			return
		}
		g.debug("the sidecar's change stream broke; reopening", err)
		if time.Since(opened) > 10*streamRetryMax {
			wait = streamRetryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, streamRetryMax)
	}
}

// term is a stretch of answers naming this pod, at one epoch, seen while
// the change stream is open. lost is closed when an event ends it or the
// stream breaks.
type term struct {
	lost     chan struct{}
	epoch    int64
	hasEpoch bool
	scope    string // the epoch's scope (the elector's Lease UID)
}

// event handles one change-stream event: the cached answer is dropped, and
// a term ends unless the event still names this pod at the term's epoch.
func (g *Guard) event(l wire.Leader, err error) {
	g.streamMu.Lock()
	defer g.streamMu.Unlock()
	if !g.streaming {
		g.debug("following the sidecar's change stream", nil)
		g.streaming = true
	}
	g.shared.drop()
	if t := g.term; t != nil && (err != nil || l.Name != g.self || l.HasEpoch != t.hasEpoch || l.Epoch != t.epoch || l.EpochScope != t.scope ||
		(l.HasIsLeader && !l.IsLeader)) {
		g.endTermLocked()
	}
}

// streamEnded records that the stream is closed. Without it the guard
// cannot tell when leadership ends, so the open term ends now (fail
// closed), and changes may be missed until it reopens, so the cached
// answer goes too.
func (g *Guard) streamEnded() {
	g.streamMu.Lock()
	defer g.streamMu.Unlock()
	if !g.streaming {
		return
	}
	g.streaming = false
	g.shared.drop()
	g.endTermLocked()
}

func (g *Guard) endTermLocked() {
	if g.term != nil {
		close(g.term.lost)
		g.term = nil
	}
}

// closed is a Lost channel for an answer overtaken by a change event.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// lostFor returns the Lost channel of a "leader" answer a: nil when the
// stream is not open (the guard cannot tell when leadership ends), the
// open term's channel, or a new term's. An answer whose request was sent
// before a change event is already lost.
func (g *Guard) lostFor(a *answer) <-chan struct{} {
	g.streamMu.Lock()
	defer g.streamMu.Unlock()
	switch {
	case !g.streaming:
		return nil
	case !g.shared.current(a):
		return closed
	case g.term == nil:
		g.term = &term{lost: make(chan struct{}), epoch: a.leader.Epoch, hasEpoch: a.leader.HasEpoch, scope: a.leader.EpochScope}
	case g.term.epoch != a.leader.Epoch || g.term.hasEpoch != a.leader.HasEpoch || g.term.scope != a.leader.EpochScope:
		g.endTermLocked()
		g.term = &term{lost: make(chan struct{}), epoch: a.leader.Epoch, hasEpoch: a.leader.HasEpoch, scope: a.leader.EpochScope}
	}
	return g.term.lost
}

// Streaming reports whether the guard follows the sidecar's change stream
// now.
func (g *Guard) Streaming() bool {
	g.streamMu.Lock()
	defer g.streamMu.Unlock()
	return g.streaming
}

func (g *Guard) debug(msg string, err error) {
	if g.logger == nil {
		return
	}
	attrs := []any{slog.String("sidecar_url", g.client.URL())}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	g.logger.Debug(msg, attrs...)
}
