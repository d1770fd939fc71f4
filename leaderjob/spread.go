package leaderjob

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob/internal/spread"
	"github.com/leaderjob/leaderjob/wire"
)

// EnvSpread turns spread mode on or off (default off): see WithSpread.
const EnvSpread = "LEADERJOB_SPREAD"

// ReasonNotOwner: spread mode, another replica owns the job.
const ReasonNotOwner = guard.Reason(wire.SkipNotOwner)

// WithSpread turns spread mode on or off, instead of LEADERJOB_SPREAD
// (on or off; default off).
//
// In spread mode the fleet shares the jobs: each live replica owns about
// 1/N of them (at most max(⌈J/N⌉, ⌊1.5·J/N⌋) of J jobs over N replicas,
// while the members stay the same; the jobs of one ledger object go to one
// owner where that bound allows), and runs only those; a fire of a job owned elsewhere is
// skipped with ReasonNotOwner (logged at DEBUG). Membership comes from the
// guard source (the lease source keeps a record per replica on the Lease
// <lease>-candidates; see WithMembership for others). Every guarded job's
// fires are claimed in the ledger, each owner with a fencing token of its
// own for the job, so that while ownership moves (two replicas may both
// believe they own a job) each fire still runs once; a new owner does not
// start a fire while the previous owner's run of the job goes on (that fire
// is skipped with ReasonAlreadyRunning and counts as handled); with a
// catch-up policy a moved job loses no fire. A replica that stops hands its
// jobs on once its runs have drained; one that dies, once the others see
// its record stale (within LeaseDuration + 2×RetryPeriod for the lease
// source).
//
// The sidecar source names one leader and cannot spread: spread mode with
// it is a start-up error. With always or never it is ignored (one
// warning), so that never still switches every job off. Jobs with
// EveryReplica or their own guard (WithJobGuard) are not spread.
func WithSpread(on bool) Option { return func(o *options) { o.spread = &on } }

// WithMembership sets where spread mode learns the live members, for a
// guard given with WithGuard (the lease source brings its own).
func WithMembership(m guard.Membership) Option { return func(o *options) { o.membership = m } }

// spreadWanted reads WithSpread, else LEADERJOB_SPREAD.
func spreadWanted(env environment, o options) (bool, error) {
	if o.spread != nil {
		return *o.spread, nil
	}
	switch v := strings.ToLower(env.get(EnvSpread)); v {
	case "", "off":
		return false, nil
	case "on":
		return true, nil
	default:
		return false, fmt.Errorf("leaderjob: %w: %s=%q: accepted values are on, off", ErrConfig, EnvSpread, v)
	}
}

// setUpSpread turns spread mode on once the guard source is known, or
// says why it cannot be.
func (a *App) setUpSpread(on bool, m guard.Membership, shards int) error {
	if !on {
		return nil
	}
	switch a.source.name {
	case GuardAlways, GuardNever:
		a.logger.Warn("spread mode is ignored with guard "+a.source.name+": it spreads jobs over the members of a lease source",
			slog.String("env", EnvSpread), slog.String("guard", a.source.name))
		return nil
	case GuardSidecar:
		return fmt.Errorf("leaderjob: %w: %s=on needs %s=lease: a leader-elector sidecar names one leader and keeps no membership to spread jobs over",
			ErrConfig, EnvSpread, EnvGuard)
	}
	if m == nil {
		return fmt.Errorf("leaderjob: %w: spread mode needs a membership: use %s=lease, or pass WithMembership with WithGuard", ErrConfig, EnvGuard)
	}
	a.spread = &shares{a: a, m: m, shards: max(shards, 1), owners: map[string]string{}, gens: map[string]uint64{}}
	if shards <= 1 && a.source.ledger != nil {
		a.logger.Warn("spread mode with the ledger in one object: every replica writes it, and their writes conflict; spread the ledger over a few objects per replica",
			slog.String("env", "LEADERJOB_LEDGER_SHARDS"))
	}
	return nil
}

// shares is spread mode's view of who owns which job.
type shares struct {
	a      *App
	m      guard.Membership
	shards int // the ledger's objects: jobs of one are ranked alike

	mu     sync.Mutex
	owners map[string]string       // job → owner, as last computed
	gens   map[string]uint64       // job → this replica's ownership of it, counted
	live   map[string]guard.Member // by name
	member bool
	term   chan struct{} // closed when this replica stops being a member
	pinned map[string]string
	tag    string // what this replica shares out (publish)
}

// publish gives the membership a digest of the jobs this replica shares
// out and of how its ledger is spread (Member.Tag), before the guard
// writes its first record, when the membership takes one.
func (s *shares) publish() {
	var names []string
	for _, j := range s.a.jobsSnapshot() {
		if s.a.spreads(j) {
			names = append(names, s.a.ledgerJob(j))
		}
	}
	slices.Sort(names)
	h := fnv.New64a()
	fmt.Fprintf(h, "%d", s.shards)
	for _, n := range names {
		h.Write([]byte{0})
		h.Write([]byte(n))
	}
	tag := strconv.FormatUint(h.Sum64(), 36)
	s.mu.Lock()
	s.tag = tag
	s.mu.Unlock()
	if t, ok := s.m.(interface{ SetTag(string) }); ok {
		t.SetTag(tag)
	}
}

// spreads reports whether j is shared out in spread mode.
func (a *App) spreads(j *job) bool {
	return a.spread != nil && !j.cfg.everyReplica && j.cfg.guard == nil
}

// spreadsJob reports whether the job named name is shared out.
func (a *App) spreadsJob(name string) bool {
	if a.spread == nil {
		return false
	}
	a.mu.Lock()
	j := a.jobs[name]
	a.mu.Unlock()
	return j != nil && a.spreads(j)
}

// run recomputes the owners on every change of the membership until ctx
// ends.
func (s *shares) run(ctx context.Context) {
	for {
		changed := s.m.Changed()
		s.recompute()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// recompute takes the members as they are now: it logs each job this
// replica gains, ends its term when it stops being a member, and starts a
// catch-up of the jobs it gained.
func (s *shares) recompute() {
	a := s.a
	members, member := s.m.Members()
	live := make(map[string]guard.Member, len(members))
	names := make([]string, 0, len(members))
	for _, m := range members {
		live[m.Name] = m
		if m.Joining {
			continue // its runs count (running), but it owns nothing yet
		}
		if m.Tag == "" || s.tag == "" || m.Tag == s.tag || m.Name == a.self {
			// Members that share out other jobs (another release, in a
			// rolling update) are left out: a job is given only to
			// replicas that have it. Each side owns its jobs; where both
			// have a job, the ledger's claims decide each fire.
			names = append(names, m.Name)
		}
	}
	var jobs []spread.Job
	byName := map[string]*job{}
	for _, j := range a.jobsSnapshot() {
		byName[j.name] = j
		if a.spreads(j) {
			jobs = append(jobs, spread.Job{Name: j.name, Group: wire.LedgerShardOf(a.ledgerJob(j), s.shards)})
		}
	}
	owners := spread.Assign(jobs, names)
	s.mu.Lock()
	for job, owner := range s.pinned {
		owners[job] = owner
	}
	var gained []string
	for job, owner := range owners {
		if prev := s.owners[job]; owner == a.self && prev != a.self {
			s.gens[job]++
			gained = append(gained, job)
			if j := byName[job]; j != nil && prev != "" {
				j.gained.Store(true) // its next fire may come early on the fleet's rhythm (notDue)
			}
			a.logger.Info("job owner changed", slog.String("job", job), slog.String("previous", orNone(prev)), slog.String("owner", owner))
		}
	}
	owned := 0
	for _, owner := range owners {
		if owner == a.self {
			owned++
		}
	}
	switch {
	case member && s.term == nil:
		s.term = make(chan struct{})
		// Publish this term's id, the prefix of its claims' ids: the
		// claims of this process's ended terms then hold nothing.
		if p, ok := s.m.(interface{ SetIncarnation(string) }); ok {
			p.SetIncarnation(a.fires.terms.id(a.runSeq.prefixOf(), guard.Decision{Lost: s.term}))
		}
	case !member && s.term != nil:
		close(s.term)
		s.term = nil
		if a.life.base.Err() != nil {
			a.logger.Info("this replica left the fleet: its jobs move to the others")
		} else {
			a.logger.Warn("this replica is no longer a member of the fleet: its runs are cancelled and its jobs move to the others")
		}
	}
	s.owners, s.live, s.member = owners, live, member
	s.mu.Unlock()
	a.metrics.Owned(owned, len(jobs))
	if len(gained) > 0 {
		s.adoptGained(gained)
	}
}

// adoptGained adopts the jobs this replica gained in the ledger at once
// (the writes of one batch), so that their next fires do not wait for it,
// then catches up their missed fires. A job another replica still runs is
// adopted by its first fire after that run.
func (s *shares) adoptGained(jobs []string) {
	a := s.a
	if !a.anyClaims() {
		return
	}
	a.signals.workBegan()
	go func() {
		defer a.signals.workEnded()
		if a.life.inflight.add() {
			var wg sync.WaitGroup
			for _, name := range jobs {
				a.mu.Lock()
				j := a.jobs[name]
				a.mu.Unlock()
				if j != nil && a.spreads(j) {
					wg.Go(func() { _, _, _ = a.adopt(a.life.base, j, time.Time{}, guard.Decision{}) })
				}
			}
			wg.Wait()
			a.life.inflight.done()
		}
		a.startCatchUp()
	}()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// decision is the answer of job's share guard: leader while this replica
// is a member and owns the job.
func (s *shares) decision(job string) (guard.Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	self := s.a.self
	if !s.member {
		return guard.Decision{Self: self}, fmt.Errorf("%w: this replica is not a live member of the fleet (its membership record could not be written lately)", guard.ErrUnavailable)
	}
	owner := s.owners[job]
	if owner != self {
		return guard.Decision{Holder: owner, Self: self, Detail: "owned by " + orNone(owner)}, nil
	}
	return guard.Decision{Leader: true, Holder: self, Self: self, Lost: s.term, Detail: "owner"}, nil
}

// guardFor is the guard of a job in spread mode.
func (s *shares) guardFor(job string) guard.Guard {
	return guard.CheckFunc(func(ctx context.Context) (guard.Decision, error) {
		if err := ctx.Err(); err != nil {
			return guard.Decision{}, err
		}
		return s.decision(job)
	})
}

// generation counts this replica's ownerships of job: a new one needs a
// new adoption in the ledger.
func (s *shares) generation(job string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gens[job]
}

// owner is job's owner as this replica sees it ("" when none).
func (s *shares) owner(job string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[job]
}

// running reports whether a claim's process is a live member other than
// this process: its run of the job may still go on.
//
// A live member's claim runs if it is of the incarnation the member
// publishes: its process, in its current membership term or a later one
// (a claim made before the member's record caught up). A replica that is
// no member (spread mode off there: a release without it, in a rolling
// update) runs its claims while it holds the Lease, as a single leader,
// or while no holder is known yet.
//
// sure reports that the claim's process is seen alive now (a fresh
// member), not only not yet seen dead: only then is a fire skipped for it
// recorded as handled (ledger.State.Adopt).
func (s *shares) running(c wire.Claim) (running, sure bool) {
	s.a.leader.mu.Lock()
	leader := s.a.leader.holder
	s.a.leader.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix, term := splitClaimID(c.ClaimID)
	if c.Holder == s.a.self && prefix == s.a.runSeq.prefixOf() {
		return false, false // this process: its run lock tells
	}
	m, ok := s.live[c.Holder]
	if !ok {
		// Not a member: a single leader runs its claims while it holds
		// the Lease (while none is known, as far as this replica can tell).
		return c.Holder != s.a.self && (leader == "" || c.Holder == leader), false
	}
	if m.Incarnation == "" {
		return true, m.Fresh // a member that publishes no incarnation: it may run it
	}
	ip, iterm := splitClaimID(m.Incarnation)
	return ip == prefix && (iterm < 0 || term < 0 || term >= iterm), m.Fresh
}

// splitClaimID splits a claim id (or a published incarnation)
// "<process prefix>/<term>" into its parts; term is -1 when there is none.
func splitClaimID(id string) (prefix string, term int) {
	prefix, t, ok := strings.Cut(id, "/")
	if !ok {
		return prefix, -1
	}
	n, err := strconv.Atoi(t)
	if err != nil {
		return prefix, -1
	}
	return prefix, n
}

// isMember reports whether this replica was a member at the last
// recompute.
func (s *shares) isMember() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.member
}

// pin makes owner the owner of each job in owners whatever the members
// (leaderjobtest's OwnedElsewhere).
func (s *shares) pin(owners map[string]string) {
	s.mu.Lock()
	s.pinned = owners
	s.mu.Unlock()
	s.recompute()
}
