package lease

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

// leaseLock is the resourcelock.Interface the elector uses. It does what
// client-go's LeaseLock does and, in addition, reports every answer of the
// apiserver to the Guard: the Lease as read or written (holder, epoch,
// resourceVersion), when this replica's renewals succeeded, and failures.
// While the apiserver refuses the guard for a reason only an operator can
// fix, it sends a request only once per error log period (see holdOff).
// A standby's reads are served by the watch while it works (see fromWatch),
// so a standby sends no requests while another replica renews the Lease.
//
// The elector calls it from one goroutine at a time (its Run calls are
// sequential), so the cached Lease needs no lock of its own.
type leaseLock struct {
	g      *Guard
	client coordinationclient.LeaseInterface
	cached *coordinationv1.Lease // the last Lease read or written
}

var _ rl.Interface = (*leaseLock)(nil)

func (l *leaseLock) Get(ctx context.Context) (*rl.LeaderElectionRecord, []byte, error) {
	if err := l.g.holdOff(); err != nil {
		return nil, nil, err
	}
	lease, fromServer := l.g.fromWatch(), false
	if lease == nil {
		sent := l.g.clock.Now()
		var err error
		lease, err = l.client.Get(ctx, l.g.cfg.name, metav1.GetOptions{})
		if err != nil {
			l.g.failed(ctx, "get", "get", sent, err)
			return nil, nil, err
		}
		fromServer = true
	}
	l.cached = lease
	record := rl.LeaseSpecToLeaderElectionRecord(&lease.Spec)
	raw, err := json.Marshal(record)
	if err != nil {
		return nil, nil, err
	}
	l.g.read(lease, raw, fromServer)
	if shown := l.g.handoff.deferred(lease, record); shown != record {
		// Released to a named successor: the elector sees it held for
		// one retry period.
		if raw, err = json.Marshal(shown); err != nil {
			return nil, nil, err
		}
		return shown, raw, nil
	}
	return record, raw, nil
}

func (l *leaseLock) Create(ctx context.Context, record rl.LeaderElectionRecord) error {
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: l.g.cfg.name, Namespace: l.g.cfg.namespace},
		Spec:       rl.LeaderElectionRecordToLeaseSpec(&record),
	}
	return l.write(ctx, "create", "create", func(ctx context.Context) (*coordinationv1.Lease, error) {
		return l.client.Create(ctx, lease, metav1.CreateOptions{})
	})
}

func (l *leaseLock) Update(ctx context.Context, record rl.LeaderElectionRecord) error {
	if l.cached == nil {
		return errors.New("lease: update before the Lease was read or created")
	}
	if record.HolderIdentity == "" && holderOf(l.cached) != l.g.self {
		// client-go's release reads the Lease but decides with the holder it
		// observed before: after a pause it would clear the Lease of the
		// replica that took over meanwhile, and a third one could lead
		// beside it. A Lease this replica does not hold is not ours to
		// release.
		l.g.log.Debug("not releasing a Lease held by another replica", slog.String("lease", l.g.desc),
			slog.String("holder", holderOf(l.cached)))
		return nil
	}
	lease := l.cached.DeepCopy() // keeps resourceVersion: the update is a compare-and-swap
	lease.Spec = rl.LeaderElectionRecordToLeaseSpec(&record)
	delete(lease.Annotations, SuccessorAnnotation) // a preference lasts only while released
	what := "take-over"
	switch {
	case record.HolderIdentity == "":
		what = "release"
		if c, ok := l.g.handoff.successor(ctx); ok {
			if lease.Annotations == nil {
				lease.Annotations = map[string]string{}
			}
			lease.Annotations[SuccessorAnnotation] = c.identity
			l.g.log.Info("handing the Lease to a replica of another release", slog.String("lease", l.g.desc),
				slog.String("successor", c.identity), slog.String("successor_release", c.release),
				slog.String("release", l.g.handoff.release))
		}
	case record.HolderIdentity == l.g.self && holderOf(l.cached) == l.g.self:
		what = "renew"
	}
	return l.write(ctx, "update", what, func(ctx context.Context) (*coordinationv1.Lease, error) {
		return l.client.Update(ctx, lease, metav1.UpdateOptions{})
	})
}

// write sends one write and reports it. The time taken before sending is
// what counts as the renewal time: the apiserver stored the Lease no earlier.
// verb is the request's verb, what the election step it is (such as renew).
func (l *leaseLock) write(ctx context.Context, verb, what string, do func(context.Context) (*coordinationv1.Lease, error)) error {
	if err := l.g.holdOff(); err != nil {
		return err
	}
	l.g.writing(true)
	sent := l.g.clock.Now()
	lease, err := do(ctx)
	l.g.writing(false)
	if err != nil {
		l.g.failed(ctx, verb, what, sent, err)
		return err
	}
	l.cached = lease
	l.g.wrote(lease, sent)
	return nil
}

// RecordEvent does nothing: the guard records no Events, so it needs no
// permission on events.
func (l *leaseLock) RecordEvent(string) {}

func (l *leaseLock) Identity() string { return l.g.self }

func (l *leaseLock) Describe() string { return l.g.desc }
