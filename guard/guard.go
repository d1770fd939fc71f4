// Package guard decides, right before each run of a scheduled job, whether
// this replica may run it.
//
// A [Guard] answers one question — "am I the leader now?" — with a
// [Decision] or an error. [Run] is the middleware that asks a Guard under a
// short deadline and calls the job only when the answer is yes; any other
// answer, including an error or a timeout, skips the run and says why in the
// returned [Result]. The package fails closed: nothing but an explicit
// "leader" answer lets a job run.
//
// Guards that hold leadership for a term (a Kubernetes Lease, for example)
// put a Lost channel in their Decision; Run cancels the job's context when
// that channel closes. Guards with background work or something to hand back
// on shutdown implement the optional [Starter], [Releaser] and
// [HealthChecker] interfaces; simple guards implement none of them.
//
// This package depends on the standard library only.
package guard

import (
	"context"
	"errors"
	"time"
)

// Guard reports whether this replica is the leader.
//
// Check must honour ctx: when ctx ends it returns promptly with an error that
// wraps ctx.Err(). A follower is not an error: Check returns a Decision with
// Leader false and a nil error. An error means the guard could not tell; the
// caller must then treat the replica as a follower. Check is called
// concurrently from many goroutines.
type Guard interface {
	Check(ctx context.Context) (Decision, error)
}

// CheckFunc adapts an ordinary function to a [Guard].
type CheckFunc func(ctx context.Context) (Decision, error)

// Check calls f(ctx).
func (f CheckFunc) Check(ctx context.Context) (Decision, error) { return f(ctx) }

// Decision is one answer of a Guard.
type Decision struct {
	// Leader reports whether this replica may run jobs now.
	Leader bool
	// Holder is the identity of the current leader when the source knows it,
	// and "" otherwise. When Leader is true it is this replica's identity.
	Holder string
	// Self is this replica's identity as the guard knows it ("" if none).
	Self string
	// Epoch is a fencing token that grows every time leadership changes hands,
	// valid only when HasEpoch is true. A job that writes to a shared store can
	// include it in its writes and have the store reject writes carrying an
	// older epoch, so a leader that lost its term without noticing cannot
	// overwrite its successor's work.
	Epoch    int64
	HasEpoch bool
	// EpochScope is what the epoch counts within, such as the UID of a
	// Lease: a deleted and re-created Lease starts counting again, so
	// epochs compare only within one scope ("" when the source has none).
	EpochScope string
	// Observed is when the source last confirmed this answer (a Lease renewal,
	// a sidecar's last_update); zero when unknown.
	Observed time.Time
	// Lost, when not nil, is closed when the leadership term this Decision
	// belongs to ends. Run cancels the job's context when it closes, with
	// cause ErrLeadershipLost. A nil Lost means the source cannot signal loss.
	Lost <-chan struct{}
	// Detail is a short human-readable explanation, such as
	// "leader is pod-b", used in logs when the run is skipped.
	Detail string
}

// Starter is implemented by guards that need background work, such as an
// election loop, before they can answer. Start returns once the work has
// begun; it does not wait for leadership. The work ends when Release is
// called or ctx is cancelled.
type Starter interface {
	Start(ctx context.Context) error
}

// Releaser is implemented by guards that hold leadership and can hand it over
// on shutdown. Callers must stop and drain every job first: a released guard
// lets another replica start running jobs at once. Release stops any
// background work started by Start and waits for it, or until ctx ends.
// After Release, Check answers "not leader" with ErrReleased.
type Releaser interface {
	Release(ctx context.Context) error
}

// HealthChecker is implemented by guards whose background work can wedge.
// Healthy returns nil while the guard works, and an error that says what is
// stuck otherwise; it is meant for a liveness probe, so it must be cheap and
// must not block.
type HealthChecker interface {
	Healthy() error
}

// ReadinessChecker is implemented by guards that can tell a problem only an
// operator can fix (a forbidden or invalid request: missing RBAC, a bad
// object name, a missing namespace) from a passing one. Ready returns nil
// while no such problem is known, and otherwise an error that says what is
// wrong and what to change; it is meant for a readiness probe, so it must be
// cheap and must not block. Such a guard keeps retrying (slowly), so that
// fixing the cause heals it without a restart.
type ReadinessChecker interface {
	Ready() error
}

// Sentinel errors. Guards wrap them so that callers can match with errors.Is
// whatever the source; several may apply at once (an unreachable sidecar is
// both ErrUnavailable and whatever the client says).
var (
	// ErrNotLeader reports a run skipped because another replica leads.
	ErrNotLeader = errors.New("not the leader")
	// ErrLeaderUnknown reports that the source answered but named no leader.
	ErrLeaderUnknown = errors.New("leader unknown")
	// ErrStale reports an answer too old to trust.
	ErrStale = errors.New("stale leadership answer")
	// ErrUnavailable reports that the source of leadership could not be asked.
	ErrUnavailable = errors.New("leadership source unavailable")
	// ErrForbidden reports that the source refused this replica's credentials
	// (for a Lease: missing RBAC).
	ErrForbidden = errors.New("forbidden")
	// ErrReleased reports that the guard has released leadership for good.
	ErrReleased = errors.New("guard released")
	// ErrLeadershipLost is the cause of a job context cancelled because the
	// leadership term it ran under ended.
	ErrLeadershipLost = errors.New("leadership lost")
	// ErrShuttingDown is the cause of a job context cancelled because the
	// application is shutting down.
	ErrShuttingDown = errors.New("shutting down")
)

// Change is a change of leader observed by a guard.
type Change struct {
	Previous string // the holder before the change ("" when none or unknown)
	Holder   string // the holder after the change ("" when none or unknown)
	Self     string // this replica's identity
	Epoch    int64  // the epoch after the change, valid when HasEpoch
	HasEpoch bool
	At       time.Time
}

// ChangeNotifier is implemented by guards that observe leadership changes on
// their own (an election loop, a poller). OnChange registers fn to be called,
// sequentially and never concurrently, for each change seen after the call.
// fn must not block.
type ChangeNotifier interface {
	OnChange(fn func(Change))
}

// Membership is the set of live replicas of a fleet that spreads its jobs
// over them (leaderjob's spread mode): every member computes the same
// owner for each job from the same set. A source that keeps a record per
// replica (the Lease guard, with lease.WithMembership) implements it.
type Membership interface {
	// Members returns the live members, sorted by name, this replica
	// included while it is one, and whether it is one now: false before
	// its own record was first written and once it could not be kept for
	// a while (its runs must then end, as a leader's do when its term
	// ends). Members still Joining own no jobs.
	Members() (live []Member, member bool)
	// Changed returns a channel that is closed at the next change of what
	// Members returns.
	Changed() <-chan struct{}
}

// Member is one live replica of a Membership.
type Member struct {
	// Name is the replica's identity (its pod name).
	Name string
	// Incarnation tells the processes that bore the name apart (a
	// container restarted in its pod keeps the name): what the process
	// gave its source (leaderjob: the prefix of its run ids), or "" when
	// the source does not know.
	Incarnation string
	// Tag is what the member shares out, as it published it (leaderjob: a
	// digest of its jobs and how its ledger is spread), or "" when the
	// source does not know: members with different tags do not share
	// jobs with each other.
	Tag string
	// Joining reports a member seen to write its record once only: it
	// does not count itself yet (it has not seen the others), so it owns
	// no jobs yet, but it may already have begun to run one.
	Joining bool
	// Fresh reports a member seen alive now (its record seen to change
	// within the last few retry periods), not only not yet seen dead: a
	// record seen once, by a replica that just started, may be a dead
	// replica's.
	Fresh bool
}
