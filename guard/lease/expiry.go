package lease

import "time"

// LeaseExpiry returns when the current holder's lease runs out as this
// replica sees it, and false when no replica holds the Lease or it has not
// been read yet.
//
// For another holder it is when this replica's elector will consider the
// lease expired: LeaseDuration (as the holder wrote it) after the elector
// last saw the Lease's record change. While this replica holds the Lease it
// is LeaseDuration after the last successful renewal was sent, the earliest
// a standby could take the Lease over if no renewal followed.
func (g *Guard) LeaseExpiry() (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := &g.tenure; t.holding && !t.lastRenew.IsZero() {
		return t.lastRenew.Add(g.cfg.leaseDuration), true
	}
	o := &g.seen
	if o.lease == nil || o.holder == "" || o.holder == g.self || o.rawSeenAt.IsZero() {
		return time.Time{}, false
	}
	var seconds int32
	if o.lease.Spec.LeaseDurationSeconds != nil {
		seconds = *o.lease.Spec.LeaseDurationSeconds
	}
	return o.rawSeenAt.Add(time.Duration(seconds) * time.Second), true
}
