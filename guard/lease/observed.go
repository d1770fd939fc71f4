package lease

import (
	"bytes"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/utils/clock"

	"github.com/leaderjob/leaderjob/guard"
)

// kickMargin is added to the moment a standby's elector will consider the
// holder's lease expired before the guard restarts the elector, so that the
// elector's own clock reading is past the expiry too.
const kickMargin = 50 * time.Millisecond

// observation is the Lease as this replica last saw it, by any means (the
// elector's reads, its own writes, the watch), ordered by resourceVersion,
// and the expiry timer that fires when the elector will consider another
// holder's lease expired.
//
// Its methods are called with the guard's lock held. The expiry timer calls
// expired, which must take that lock.
type observation struct {
	clock   clock.WithDelayedExecution
	self    string
	expired func()

	seen      bool
	lease     *coordinationv1.Lease // the newest Lease seen; nil when none or deleted
	doubted   bool                  // a write based on lease conflicted
	holder    string
	epoch     int64
	at        time.Time // when the Lease was last seen
	rv        string    // the highest resourceVersion seen
	rawRecord []byte    // the record the elector last read
	rawSeenAt time.Time // when it last changed: the elector's own observation time
	expiry    clock.Timer
}

// observe records lease and returns the change of holder or epoch it
// brings, if any. A Lease older (by resourceVersion) than one already seen
// is ignored.
func (o *observation) observe(lease *coordinationv1.Lease) (c guard.Change, changed bool) {
	if o.rv != "" {
		if c, err := resourceversion.CompareResourceVersion(lease.ResourceVersion, o.rv); err == nil && c < 0 {
			return guard.Change{}, false
		}
	}
	o.rv, o.lease = lease.ResourceVersion, lease
	now := o.clock.Now()
	holder, epoch := holderOf(lease), epochOf(lease)
	o.at = now
	if o.seen && holder == o.holder && epoch == o.epoch {
		return guard.Change{}, false
	}
	c = guard.Change{Previous: o.holder, Holder: holder, Self: o.self, Epoch: epoch, HasEpoch: true, At: now}
	o.seen, o.holder, o.epoch = true, holder, epoch
	return c, true
}

// read records the record bytes the elector compares when it reads lease,
// and arms the expiry timer: the elector considers another holder's lease
// expired LeaseDuration (as the holder wrote it) after it last saw the
// record change. client-go would otherwise notice only on its next retry
// tick.
func (o *observation) read(lease *coordinationv1.Lease, raw []byte) {
	now := o.clock.Now()
	if !bytes.Equal(raw, o.rawRecord) {
		o.rawRecord, o.rawSeenAt = raw, now
	}
	holder := holderOf(lease)
	var seconds int32
	if lease.Spec.LeaseDurationSeconds != nil {
		seconds = *lease.Spec.LeaseDurationSeconds
	}
	wait := o.rawSeenAt.Add(time.Duration(seconds)*time.Second + kickMargin).Sub(now)
	if holder == "" || holder == o.self || wait <= 0 {
		o.stop()
		return
	}
	if o.expiry == nil {
		o.expiry = afterFunc(o.clock, wait, o.expired)
		return
	}
	o.expiry.Reset(wait)
}

// forget records that the Lease was deleted.
func (o *observation) forget() { o.lease = nil }

// stop stops the expiry timer.
func (o *observation) stop() {
	if o.expiry != nil {
		o.expiry.Stop()
	}
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func epochOf(l *coordinationv1.Lease) int64 {
	if l.Spec.LeaseTransitions == nil {
		return 0
	}
	return int64(*l.Spec.LeaseTransitions)
}
