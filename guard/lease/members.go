package lease

import (
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/utils/clock"

	"github.com/leaderjob/leaderjob/guard"
)

// WithMembership turns on the membership that spread mode shares jobs by
// (Guard.Members), naming this process's incarnation (leaderjob passes the
// prefix of its run ids, so that a container restarted under the same pod
// name is told from the one before). The replica's record on the Lease
// <name>-candidates is then rewritten every RetryPeriod (one merge patch,
// whose answer is also the read of every other record) instead of every
// four LeaseDurations.
//
// A record is live while its value changed within the last LeaseDuration
// as this replica saw it (its own clock's intervals, never the writers'
// clocks), so a replica that stopped writing is out within LeaseDuration +
// 2×RetryPeriod. This replica is a member from its second written record
// (one RetryPeriod after the first, when it has seen the records of the
// replicas that started with it) while its last successful write is
// younger than RenewDeadline, which is
// shorter than LeaseDuration: it stops counting itself before the others
// stop counting it. A replica that stops removes its record at once.
// Records unchanged for three LeaseDurations are dropped.
//
// An empty incarnation is replaced by a random one: the others count only
// records that carry one (a replica that keeps a record for the hand-off
// alone is no member).
func WithMembership(incarnation string) Option {
	if incarnation == "" {
		incarnation = rand.Text()[:8]
	}
	return func(c *config) { c.membership, c.incarnation = true, incarnation }
}

// Members returns the membership that WithMembership turns on, or nil
// without it.
func (g *Guard) Members() guard.Membership {
	if !g.cfg.membership {
		return nil
	}
	return &g.handoff.members
}

// members is the view of the candidates Lease that spread mode reads.
type members struct {
	h *handoff

	mu      sync.Mutex
	seen    map[string]sighting // identity → its record's value, and when first seen
	okAt    time.Time           // this replica's last successful write
	writes  int                 // successful writes since the first, or since it was removed
	ok      bool                // written twice at least, not removed since
	live    []guard.Member
	member  bool
	changed chan struct{}
	expiry  clock.Timer // this replica's membership ends unless a write succeeds first
	ownTag  string      // SetTag
	ownInc  string      // SetIncarnation; the option's incarnation until then
}

// SetIncarnation sets what this replica publishes as its
// Member.Incarnation from its next record on (leaderjob publishes the id
// of its current membership term, so that the claims of its ended terms
// hold nothing).
func (m *members) SetIncarnation(inc string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if inc = strings.ReplaceAll(inc, " ", "_"); inc != "" {
		m.ownInc = inc
	}
}

func (m *members) incarnation() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.incarnationLocked()
}

func (m *members) incarnationLocked() string {
	if m.ownInc != "" {
		return m.ownInc
	}
	return m.h.g.cfg.incarnation
}

// SetTag sets what this replica publishes as its Member.Tag (leaderjob
// sets a digest of its jobs before the guard starts); its next record
// carries it.
func (m *members) SetTag(tag string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ownTag = strings.ReplaceAll(tag, " ", "_")
}

func (m *members) tag() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ownTag
}

// sighting is a record's value and when this replica first saw it.
type sighting struct {
	value, incarnation, tag string
	first                   time.Time
	changed                 bool // seen with another value before: the replica keeps it
}

// Members returns the live members, sorted by name, and whether this
// replica is one.
func (m *members) Members() ([]guard.Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evaluateLocked()
	return slices.Clone(m.live), m.member
}

// Changed returns a channel closed at the next change of Members.
func (m *members) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evaluateLocked()
	if m.changed == nil {
		m.changed = make(chan struct{})
	}
	return m.changed
}

// observe takes the candidates Lease a write returned (nil and the error
// when it failed; present false when the write removed this replica).
func (m *members) observe(lease *coordinationv1.Lease, err error, present bool, sent time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.h.g.clock.Now()
	switch {
	case err != nil:
	case !present:
		m.ok, m.writes = false, 0
	default:
		// A member from its second write on: by then it has seen the
		// records of every replica that wrote before it, so replicas
		// that start together do not each begin by owning every job.
		m.writes++
		// From when the write was sent, not answered: the others may
		// have seen it as early as that.
		m.ok, m.okAt = m.writes >= 2, sent
		if m.expiry != nil {
			m.expiry.Stop()
		}
		m.expiry = afterFunc(m.h.g.clock, m.h.g.cfg.renewDeadline-now.Sub(sent)+time.Millisecond, func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.evaluateLocked()
		})
		if m.seen == nil {
			m.seen = map[string]sighting{}
		}
		for id := range m.seen {
			if _, ok := lease.Annotations[CandidateAnnotationPrefix+id]; !ok {
				delete(m.seen, id)
			}
		}
		for k, v := range lease.Annotations {
			c, ok := parseCandidate(k, v)
			if !ok {
				continue
			}
			if s, ok := m.seen[c.identity]; !ok || s.value != v {
				m.seen[c.identity] = sighting{value: v, incarnation: c.incarnation, tag: c.tag, first: now, changed: ok}
			}
		}
	}
	m.evaluateLocked()
}

// stale lists the records unchanged, as this replica saw them, for three
// LeaseDurations: replicas that died, whose records the next write drops.
func (m *members) stale() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.h.g.clock.Now()
	var ids []string
	for id, s := range m.seen {
		if id != m.h.g.self && now.Sub(s.first) > 3*m.h.g.cfg.leaseDuration {
			ids = append(ids, id)
		}
	}
	return ids
}

// evaluateLocked recomputes the live members at the clock's now, and
// closes the channel of Changed when they or this replica's membership
// changed.
func (m *members) evaluateLocked() {
	g := m.h.g
	now := g.clock.Now()
	member := m.ok && now.Sub(m.okAt) <= g.cfg.renewDeadline
	var live []guard.Member
	for id, s := range m.seen {
		// Only the records of members (a hand-off record of a replica
		// not in spread mode carries no incarnation), while they are
		// kept; Joining until seen to change (a replica counts itself
		// from its second write).
		if id != g.self && s.incarnation != "" && now.Sub(s.first) <= g.cfg.leaseDuration {
			live = append(live, guard.Member{Name: id, Incarnation: s.incarnation, Tag: s.tag, Joining: !s.changed,
				Fresh: s.changed && now.Sub(s.first) <= 3*g.cfg.retryPeriod})
		}
	}
	if member {
		live = append(live, guard.Member{Name: g.self, Incarnation: m.incarnationLocked(), Tag: m.ownTag, Fresh: true})
	}
	slices.SortFunc(live, func(a, b guard.Member) int { return strings.Compare(a.Name, b.Name) })
	if member == m.member && slices.Equal(live, m.live) {
		return
	}
	m.live, m.member = live, member
	if m.changed != nil {
		close(m.changed)
		m.changed = nil
	}
}
