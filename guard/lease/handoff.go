package lease

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	rl "k8s.io/client-go/tools/leaderelection/resourcelock"
)

// The hand-off on release (see WithRelease).
const (
	// SuccessorAnnotation, on a released Lease, names the replica its last
	// holder handed it to.
	SuccessorAnnotation = "leaderjob.dev/successor"
	// CandidatesSuffix ends the name of the Lease whose annotations record
	// the live replicas and their releases: <lease>-candidates.
	CandidatesSuffix = "-candidates"
	// CandidateAnnotationPrefix starts each replica's record on the
	// candidates Lease: candidates.leaderjob.dev/<identity>, valued
	// "<unix milliseconds> <release>".
	CandidateAnnotationPrefix = "candidates.leaderjob.dev/"
)

// handoff is the successor rule: while the guard runs, it records this
// replica and its release on the candidates Lease (see every);
// the leader, as it releases, names one successor on the Lease; every
// other replica that sees a Lease released with a successor named leaves
// it to that replica for one RetryPeriod.
type handoff struct {
	g       *Guard
	release string // "" disables the rule
	client  coordinationclient.LeaseInterface
	name    string

	mu      sync.Mutex
	seen    map[string]time.Time // released Leases with a successor, by resourceVersion: first seen
	warned  time.Time
	last    *coordinationv1.Lease // the candidates Lease as the last patch returned it
	running bool                  // keep runs
	tried   bool                  // its first record was tried

	members members // WithMembership
}

// candidate is one replica's record.
type candidate struct {
	identity, release, incarnation, tag string
	at                                  time.Time
}

// every is how often a replica rewrites its record: four LeaseDurations
// (a minute at the defaults), so that a standby sends one request a minute
// for it; every RetryPeriod with WithMembership.
func (h *handoff) every() time.Duration {
	if h.g.cfg.membership {
		return h.g.cfg.retryPeriod
	}
	return 4 * h.g.cfg.leaseDuration
}

// on reports whether the replica keeps a record: for the hand-off, or for
// the membership.
func (h *handoff) on() bool { return h.release != "" || h.g.cfg.membership }

// errNotRecorded: the replica is not ready until its first record was
// tried, so that a rolling update does not stop the old leader before the
// new replica can be named its successor.
var errNotRecorded = errors.New("lease: recording this replica as a hand-off candidate")

// ready reports errNotRecorded until the first record was tried (written,
// or refused: a replica the rule cannot record is ready all the same).
func (h *handoff) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running && !h.tried {
		return errNotRecorded
	}
	return nil
}

// begin marks the rule as running (Start), so that the replica is not
// ready until its first record was tried.
func (h *handoff) begin() {
	h.mu.Lock()
	h.running = h.on()
	h.mu.Unlock()
}

// keep records this replica until ctx ends, then removes its record.
func (h *handoff) keep(ctx context.Context) {
	if !h.on() {
		return
	}
	for first := true; ; first = false {
		h.record(ctx, true)
		if first {
			h.mu.Lock()
			h.tried = true
			h.mu.Unlock()
		}
		t := h.g.clock.NewTimer(h.every())
		select {
		case <-ctx.Done():
			t.Stop()
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.g.cfg.renewDeadline)
			h.record(rctx, false)
			cancel()
			return
		case <-t.C():
		}
	}
}

// record writes (present) or removes this replica's record, and drops
// records older than three LeaseDurations (replicas that died).
func (h *handoff) record(ctx context.Context, present bool) {
	key := CandidateAnnotationPrefix + h.g.self
	now := h.g.clock.Now()
	// A merge patch of this replica's own annotation: one request, which
	// the other replicas' records cannot make conflict. Records found
	// stale in the Lease as last returned go in the same patch.
	annotations := map[string]any{key: nil}
	value := formatCandidate(now, h.release, h.members.incarnation(), h.members.tag())
	if present {
		annotations[key] = value
	}
	if h.g.cfg.membership {
		// Judged by this replica's own sightings, not the writers' clocks.
		for _, id := range h.members.stale() {
			annotations[CandidateAnnotationPrefix+id] = nil
		}
	} else {
		h.mu.Lock()
		if h.last != nil {
			for k, v := range h.last.Annotations {
				if c, ok := parseCandidate(k, v); ok && k != key && now.Sub(c.at) > 3*h.every() {
					annotations[k] = nil
				}
			}
		}
		h.mu.Unlock()
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		h.failed(err)
		return
	}
	for range 3 {
		sent := h.g.clock.Now()
		out, err := h.client.Patch(ctx, h.name, types.MergePatchType, patch, metav1.PatchOptions{})
		if !apierrors.IsNotFound(err) {
			h.remember(out, err, present, sent)
			return
		}
		if !present {
			return
		}
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: h.name, Namespace: h.g.cfg.namespace,
			Annotations: map[string]string{key: value}}}
		sent = h.g.clock.Now()
		out, err = h.client.Create(ctx, lease, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			h.remember(out, err, present, sent)
			return
		}
	}
}

// remember keeps the Lease a write returned, or logs its error.
func (h *handoff) remember(out *coordinationv1.Lease, err error, present bool, sent time.Time) {
	if h.g.cfg.membership {
		h.members.observe(out, err, present, sent)
	}
	if err != nil {
		h.failed(err)
		return
	}
	h.mu.Lock()
	h.last = out
	h.mu.Unlock()
}

// failed logs a failed record at most once per error log period (not
// one cut short as the guard stops).
func (h *handoff) failed(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := h.g.clock.Now(); now.Sub(h.warned) >= h.g.cfg.errorLogPeriod {
		h.warned = now
		what := "cannot record this replica as a successor candidate; leadership moves as without a hand-off"
		if h.g.cfg.membership {
			what = "cannot record this replica as a member of the fleet; it stops counting itself one if this lasts past the renew deadline"
		}
		if apierrors.IsForbidden(err) {
			what += " (grant get, patch and create on the Lease " + h.name + ")"
		}
		h.g.log.Warn(what, slog.String("lease", h.g.cfg.namespace+"/"+h.name), slog.String("error", err.Error()))
	}
}

// successor picks the replica to hand the Lease to: one whose release
// differs from this one's, recorded within the last record period plus
// RetryPeriod (alive, as far as records tell), the most recent first.
func (h *handoff) successor(ctx context.Context) (candidate, bool) {
	if h.release == "" {
		return candidate{}, false
	}
	lease, err := h.client.Get(ctx, h.name, metav1.GetOptions{})
	if err != nil {
		h.failed(err)
		return candidate{}, false
	}
	now := h.g.clock.Now()
	var cs []candidate
	for k, v := range lease.Annotations {
		c, ok := parseCandidate(k, v)
		if ok && c.identity != h.g.self && c.release != h.release && now.Sub(c.at) <= h.every()+h.g.cfg.retryPeriod {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return candidate{}, false
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		return cmp.Or(b.at.Compare(a.at), strings.Compare(a.identity, b.identity))
	})
	return cs[0], true
}

// deferred returns the record the elector is to see of lease: while a
// Lease released with a successor named that is not this replica is
// younger, as this replica saw it, than one RetryPeriod, a record that
// names the successor as holder, so that the elector leaves it alone; the
// Lease's own record otherwise (an expired Lease carries no preference:
// only a released one, whose holder is empty, is deferred).
func (h *handoff) deferred(lease *coordinationv1.Lease, record *rl.LeaderElectionRecord) *rl.LeaderElectionRecord {
	succ := lease.Annotations[SuccessorAnnotation]
	if h.release == "" || record.HolderIdentity != "" || succ == "" || succ == h.g.self {
		return record
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.g.clock.Now()
	if h.seen == nil {
		h.seen = map[string]time.Time{}
	}
	first, ok := h.seen[lease.ResourceVersion]
	if !ok {
		first = now
		for rv, at := range h.seen { // only the newest release matters
			if now.Sub(at) > h.g.cfg.leaseDuration {
				delete(h.seen, rv)
			}
		}
		h.seen[lease.ResourceVersion] = now
		h.g.log.Debug("the Lease was handed to a successor; leaving it to that replica for one retry period",
			slog.String("lease", h.g.desc), slog.String("successor", succ), slog.Duration("retry_period", h.g.cfg.retryPeriod))
	}
	if now.Sub(first) >= h.g.cfg.retryPeriod {
		return record
	}
	held := *record
	held.HolderIdentity = succ
	held.LeaseDurationSeconds = int(math.Ceil(h.g.cfg.retryPeriod.Seconds()))
	return &held
}

// formatCandidate is a record's value: "<unix ms> <release>", and
// " <incarnation>" and " <tag>" after it with WithMembership.
func formatCandidate(at time.Time, release, incarnation, tag string) string {
	v := strconv.FormatInt(at.UnixMilli(), 10) + " " + release
	if incarnation != "" {
		v += " " + incarnation
		if tag != "" {
			v += " " + tag
		}
	}
	return v
}

func parseCandidate(key, value string) (candidate, bool) {
	id, ok := strings.CutPrefix(key, CandidateAnnotationPrefix)
	if !ok || id == "" {
		return candidate{}, false
	}
	ms, rest, ok := strings.Cut(value, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil {
		return candidate{}, false
	}
	release, rest, _ := strings.Cut(rest, " ")
	incarnation, tag, _ := strings.Cut(rest, " ")
	return candidate{identity: id, release: release, incarnation: incarnation, tag: tag, at: time.UnixMilli(n)}, true
}
