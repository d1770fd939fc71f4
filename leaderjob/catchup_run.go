package leaderjob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob/cron"
	"github.com/leaderjob/leaderjob/leaderjob/internal/plan"
	"github.com/leaderjob/leaderjob/ledger"
)

// EnvVersion names this release for one-shot jobs (default: the binary's
// VCS revision, else a hash of the executable).
const EnvVersion = "LEADERJOB_VERSION"

// maxCatchUp bounds the missed fires of one job a catch-up runs (as
// Kubernetes CronJob gives up past 100 missed schedules): the newest ones.
const maxCatchUp = 100

// setUpLedger picks the ledger, the default catch-up policy and the version.
func (a *App) setUpLedger(env environment, o options) error {
	switch {
	case o.catchUp != nil:
		a.fires.catchUp = *o.catchUp
	default:
		c, err := ParseCatchUp(env.get(EnvCatchUp))
		if err != nil {
			return fmt.Errorf("leaderjob: %w: %s: %w", ErrConfig, EnvCatchUp, err)
		}
		a.fires.catchUp = c
	}
	if a.fires.version = o.version; a.fires.version == "" {
		if a.fires.version = env.get(EnvVersion); a.fires.version == "" {
			a.fires.version = defaultVersion()
		}
	}
	if a.fires.ledger = o.ledger; a.fires.ledger == nil && a.source.ledger != nil {
		a.fires.ledger = a.source.ledger
	}
	if a.fires.ledger == nil {
		a.fires.ledger = ledger.NewLedger(ledger.NewMemory(), ledger.WithLogger(a.logger))
	}
	return nil
}

// DefaultVersion is the release an App names itself when neither
// WithVersion nor LEADERJOB_VERSION sets one: the binary's VCS revision,
// else a hash of the executable. Guard sources use it too (the lease
// guard's hand-off to a new release).
func DefaultVersion() string { return defaultVersion() }

var defaultVersion = sync.OnceValue(buildVersion)

// buildVersion is the binary's VCS revision, else a hash of the executable:
// go run and builds without VCS data report "(devel)" as the module
// version, which would make every release look the same.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if f, err := os.Open(exe); err == nil {
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err == nil {
				return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
			}
		}
	}
	return "unknown"
}

// notDue skips the start-up fire of a fixed-rate or fixed-delay job when the
// fleet claimed a fire of it less than a period ago: a rolling update must
// not run an hourly job early.
//
// In spread mode the first scheduled fire of a job this replica gained
// counts as a start-up fire: its scheduler kept its own phase while the
// job ran elsewhere.
func (a *App) notDue(ctx context.Context, at *attempt) *skip {
	if at.kind != startUpFire && (at.kind != scheduledFire || !at.job.gained.CompareAndSwap(true, false)) {
		return nil
	}
	s, err := a.fires.ledger.Snapshot(ctx)
	if err != nil {
		return nil // the claim decides; it fails closed
	}
	js := s.Jobs[a.ledgerJob(at.job)]
	if js == nil || js.Claimed == nil {
		return nil
	}
	if since := at.info.ScheduledAt.Sub(js.Claimed.At); since < at.job.schedule.every {
		return skipBecause(ReasonNotDue, fmt.Errorf("the fleet ran it %v ago, less than its period %v", since.Round(time.Millisecond), at.job.schedule.every))
	}
	return nil
}

// startCatchUp runs leadershipBegan on a goroutine of its own, counted as
// work from the call on, so that leaderjobtest waits for it.
func (a *App) startCatchUp() {
	a.signals.workBegan()
	go func() {
		defer a.signals.workEnded()
		a.leadershipBegan()
	}()
}

// catchUpAfterOutage catches up, without a leader change, the fires skipped
// while the ledger could not be written (ledger_unavailable): the first
// claim that succeeds after a failed one starts it.
func (a *App) catchUpAfterOutage() {
	a.logger.Info("the ledger can be written again: catching up the fires skipped meanwhile")
	a.startCatchUp()
}

// leadershipBegan starts a catch-up once the scheduler runs; a term that
// begins while one is going makes it go round once more. Shutdown waits
// for it as for a run.
func (a *App) leadershipBegan() {
	if !a.anyClaims() || !a.life.inflight.add() {
		return
	}
	defer a.life.inflight.done()
	select {
	case <-a.life.running:
	case <-a.life.base.Done():
		return
	}
	if !a.catchUps.running.TryLock() {
		a.catchUps.again.Store(true)
		return
	}
	defer a.catchUps.running.Unlock()
	for {
		a.catchUps.again.Store(false)
		a.rephase(a.life.base)
		a.catchUpMissed(a.life.base, a.clock.Now())
		if !a.catchUps.again.Load() {
			return
		}
	}
}

// catchUpMissed runs, as the leader, the fires the fleet missed: for each
// job with a catch-up policy, the fires due within its window that no term
// claimed (or claimed and never completed), oldest first, one at a time;
// and the one-shot jobs this release has not run. Each pass plans only the
// fires due by until, so it ends however often the jobs fire; it repeats
// (at most three passes) until a pass finds nothing, so that a fire skipped
// meanwhile is not left behind. Scheduled fires are not held: a job's own
// wait only for its catch-up run in flight (turns).
func (a *App) catchUpMissed(ctx context.Context, until time.Time) {
	for pass := 0; pass < 3 && ctx.Err() == nil; pass++ {
		jobs := a.jobsSnapshot()
		gens := make([]uint64, len(jobs))
		for i, j := range jobs {
			gens[i] = j.turns.generation() // before the ledger is read
		}
		s, err := a.fires.ledger.Snapshot(ctx)
		if err != nil {
			a.logger.Warn("catch-up: cannot read the ledger", slog.String("error", err.Error()))
			return
		}
		d, err := a.leader.probe(ctx)
		lead := err == nil && d.Leader
		if !lead && a.spread == nil {
			return // no longer the leader: the next one catches up
		}
		if pass == 0 {
			if a.spread == nil {
				if _, err := a.token(ctx, d); err != nil {
					a.logger.Warn("catch-up: the term cannot register in the ledger", slog.String("error", err.Error()))
					return
				}
			}
			a.checkClock(s, until)
			if lead {
				a.pruneIdle(ctx, d)
			}
		}
		var busy []*job
		var ready []*job
		for i, j := range jobs {
			if j.turns.busy() || j.turns.generation() != gens[i] {
				// A scheduled fire of the job is waiting or running, or
				// came and went since the ledger was read: it records its
				// own outcome, which the read may predate. The job is
				// planned after the others, once that fire has let go of
				// it, from a fresh read of the ledger.
				busy = append(busy, j)
				continue
			}
			ready = append(ready, j)
		}
		ran, ok := a.catchUpJobs(ctx, ready, func(context.Context, *job) (ledger.State, bool) { return s, true }, until, d)
		if !ok {
			return
		}
		n, ok := a.catchUpJobs(ctx, busy, func(ctx context.Context, j *job) (ledger.State, bool) {
			done, ok := j.turns.catchUp(ctx)
			if !ok {
				return ledger.State{}, false
			}
			done()
			fresh, err := a.fires.ledger.Snapshot(ctx)
			if err != nil {
				a.logger.Warn("catch-up: cannot read the ledger", slog.String("error", err.Error()))
				return ledger.State{}, false
			}
			return fresh, true
		}, until, d)
		if ran += n; !ok {
			return
		}
		if ran == 0 {
			return
		}
	}
}

// catchUpParallel bounds how many jobs one catch-up pass catches up at
// once (each job's fires one at a time, in its own turns): their claims
// share the ledger's writes, so that a replica that gains hundreds of jobs
// catches them up within their windows.
const catchUpParallel = 256

// catchUpJobs runs catchUpJobAs for each of jobs, catchUpParallel at a
// time, each from the ledger state that state returns for it (false: stop
// the pass). It returns how many fires ran, and false when the catch-up is
// to stop.
func (a *App) catchUpJobs(ctx context.Context, jobs []*job, state func(context.Context, *job) (ledger.State, bool), until time.Time, d guard.Decision) (int, bool) {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var ran atomic.Int64
	var stopped atomic.Bool
	sem := make(chan struct{}, catchUpParallel)
	var wg sync.WaitGroup
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s, ok := state(ctx, j)
			if ok {
				var n int
				n, ok = a.catchUpJobAs(ctx, j, s, until, d)
				ran.Add(int64(n))
			}
			if !ok {
				stopped.Store(true)
				stop()
			}
		})
	}
	wg.Wait()
	return int(ran.Load()), !stopped.Load() && ctx.Err() == nil
}

// catchUpJobAs runs catchUpJob under the decision j runs under: the
// leader's (lead), or in spread mode that of the job's owner; a job this
// replica does not run is left to its owner.
func (a *App) catchUpJobAs(ctx context.Context, j *job, s ledger.State, until time.Time, lead guard.Decision) (int, bool) {
	d := lead
	if a.spreads(j) {
		var err error
		if d, err = a.spread.decision(j.name); err != nil || !d.Leader {
			return 0, err == nil
		}
	} else if !d.Leader {
		return 0, true
	}
	return a.catchUpJob(ctx, j, s, until, a.fires.terms.id(a.runSeq.prefixOf(), d), d)
}

// catchUpJob runs, one at a time and each in its own turn, the fires of j
// the ledger s shows as missed by until. It returns how many it ran, and
// false when the catch-up is to stop (this replica no longer leads, or
// the ledger cannot be written: the next pass or leader catches up).
//
// A fire's turn ends when its run does: the next fire is claimed while the
// previous one's completion is written (at most one completion pending),
// so that the two share a ledger write. Completions and run records keep
// the order of the runs. It returns once every completion it began is
// written.
func (a *App) catchUpJob(ctx context.Context, j *job, s ledger.State, until time.Time, term string, d guard.Decision) (int, bool) {
	fires, gaveUp := a.plan(j, s, until, term)
	if !gaveUp.IsZero() && !a.giveUp(ctx, j, gaveUp, d) {
		return 0, false
	}
	var settling chan struct{} // closed once the previous fire is settled
	defer func() {
		if settling != nil {
			<-settling
		}
	}()
	ran := 0
	for _, at := range fires {
		if ctx.Err() != nil {
			return ran, false
		}
		done, ok := j.turns.catchUp(ctx)
		if !ok {
			return ran, false
		}
		if j.schedule.kind == kindOnce && !a.onceStillMissed(ctx, j, until, term) {
			done()
			return ran, true
		}
		ended := make(chan Result, 1)
		settled := make(chan struct{})
		prev := settling
		var once sync.Once
		endTurn := func(r Result) {
			once.Do(func() {
				done()
				ended <- r
				if prev != nil {
					<-prev // the completions and records keep the runs' order
				}
			})
		}
		go func() {
			defer close(settled)
			defer endTurn(Result{}) // a job that ended its goroutine (runtime.Goexit) ends its turn too
			a.runAttempt(ctx, j, a.newAttempt(ctx, j, at, catchUpFire, endTurn))
		}()
		r := <-ended
		if settling != nil {
			<-settling
		}
		settling = settled
		if r.Outcome == guard.Skipped && a.spreads(j) && (r.Reason == ReasonFenced || r.Reason == ReasonNotOwner || r.Reason == ReasonAlreadyRunning) {
			return ran, true // this job only: another owner, or the previous one's run, has it
		}
		if r.Outcome == guard.Skipped && (r.Reason == ReasonFenced || r.Reason == guard.ReasonNotLeader ||
			r.Reason == ReasonLedgerUnavailable || isGuardError(r.Reason)) {
			return ran, false
		}
		ran++
	}
	return ran, true
}

// onceStillMissed reports whether one-shot job j is still missed by a
// fresh read of the ledger: its scheduled fire may have come, and run,
// between the read the catch-up planned from and the job's turn (it is
// planned as missed once it has fired, and the older read has no claim).
func (a *App) onceStillMissed(ctx context.Context, j *job, until time.Time, term string) bool {
	s, err := a.fires.ledger.Snapshot(ctx)
	if err != nil {
		return true // the claim decides
	}
	fires, _ := a.plan(j, s, until, term)
	return len(fires) > 0
}

func (a *App) jobsSnapshot() []*job {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*job(nil), a.order...)
}

// missed lists the fires of j that the ledger s shows as missed at now
// (plan.Missed), and warns when the catch-up cap leaves some out.
//
// term is the claim id of this replica's current term: a claim made in it
// is this term's own run (going or done), not a dead one.
func (a *App) missed(j *job, s ledger.State, now time.Time, term string) []time.Time {
	fires, _ := a.plan(j, s, now, term)
	return fires
}

// plan is missed, with the newest fire the catch-up cap left out (zero
// when none), which the caller records as given up.
func (a *App) plan(j *job, s ledger.State, now time.Time, term string) (fires []time.Time, gaveUp time.Time) {
	if !j.claims() || j.schedule.IsDisabled() {
		return nil, time.Time{}
	}
	name := a.ledgerJob(j)
	fires, dropped, gaveUp := plan.Missed(a.planOf(j), a.fires.unsure.view(name, s.Jobs[name]), now, term)
	if dropped > 0 {
		a.logger.Warn("catch-up: too many missed fires; running the newest, giving up the older ones", slog.String("job", j.name),
			slog.Int("missed", len(fires)+dropped), slog.Int("running", len(fires)), slog.Time("gave_up_through", gaveUp))
	}
	return fires, gaveUp
}

// giveUp records in the ledger that j's unclaimed fires at or before at
// are not to be run (the catch-up cap), so that no later pass or leader
// runs them. It reports whether the ledger has it.
func (a *App) giveUp(ctx context.Context, j *job, at time.Time, d guard.Decision) bool {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	name := a.ledgerJob(j)
	var tok int64
	var err error
	if a.spread != nil {
		tok, _, err = a.adopt(ctx, j, time.Time{}, d) // never Register: it would take every job from its owner
	} else {
		tok, err = a.token(ctx, d)
	}
	if err != nil {
		a.logger.Warn("catch-up: the term cannot register in the ledger", slog.String("error", err.Error()))
		return false
	}
	err = a.fires.ledger.Update(ctx, func(s *ledger.State) (bool, error) {
		if err := fenced(s, d, tok, name); err != nil {
			return false, err
		}
		js := s.Jobs[name]
		if js == nil || !at.After(js.GaveUp) {
			return false, nil
		}
		js.GaveUp = at
		return true, nil
	})
	if err != nil {
		a.logger.Warn("catch-up: could not record the fires given up", slog.String("job", j.name), slog.String("error", err.Error()))
		return false
	}
	return true
}

// planOf describes j to the planner.
func (a *App) planOf(j *job) plan.Job {
	s := j.schedule
	p := plan.Job{Every: s.every, Latest: j.catchUp.mode == catchUpLatest, Fired: j.fired.Load(), Max: maxCatchUp}
	if !j.catchUp.IsOff() {
		p.Window = j.catchUp.window
	}
	switch s.kind {
	case kindCron:
		p.Kind = plan.Cron
		p.Zone = s.zone
		if expr, err := cron.Parse(s.cronExpr); err == nil {
			p.Next = func(t time.Time) time.Time { return nextAfter(expr, t.In(s.zone)) }
		}
	case kindFixedRate:
		p.Kind = plan.FixedRate
	case kindFixedDelay:
		p.Kind = plan.FixedDelay
	case kindOnce:
		p.Kind = plan.Once
	}
	return p
}

// fleetSlot is the slot of the fleet's grid that a claimed fixed-rate
// job's fire at t belongs to: the grid through the job's last claimed fire
// in the ledger, t rounded to the nearest period. Its key and claim then
// name a period the whole fleet agrees on, whatever each replica's drift
// or clock offset (a replica whose clock is behind claims periods the
// fleet ran, and is refused as handled). Other kinds, a job the ledger has
// no claim of yet, or a ledger that cannot be read keep t.
func (a *App) fleetSlot(j *job, t time.Time) time.Time {
	if j.schedule.kind != kindFixedRate || j.schedule.every <= 0 {
		return t
	}
	ctx, cancel := context.WithTimeout(a.life.base, claimTimeout)
	defer cancel()
	s, err := a.fires.ledger.Snapshot(ctx)
	if err != nil {
		return t
	}
	js := s.Jobs[a.ledgerJob(j)]
	if js == nil || js.Claimed == nil {
		return t
	}
	return plan.Slot(js.Claimed.At, j.schedule.every, t)
}

// rephase moves the next fire of each claimed fixed-rate job onto the
// fleet's rhythm: the grid through the last fire claimed in the ledger, so
// that a new leader continues the previous leader's period instead of
// starting its own (each replica's scheduler otherwise counts from its own
// start).
func (a *App) rephase(ctx context.Context) {
	// One at a time: a term's start and a skipped start-up fire may both
	// ask, and two that read the next runs before either moved the job
	// would both move it (gocron then fires it twice at the new time).
	a.catchUps.rephasing.Lock()
	defer a.catchUps.rephasing.Unlock()
	a.mu.Lock()
	sched := a.sched
	a.mu.Unlock()
	if sched == nil {
		return
	}
	s, err := a.fires.ledger.Snapshot(ctx)
	if err != nil {
		return
	}
	next := a.nextRuns()
	now := a.clock.Now()
	for _, j := range a.jobsSnapshot() {
		js := s.Jobs[a.ledgerJob(j)]
		if !j.claims() || j.schedule.kind != kindFixedRate || js == nil || js.Claimed == nil {
			continue
		}
		if !j.fired.Load() {
			// Its start-up fire is still to come: moving the job now could
			// drop that fire. The start-up fire re-phases it if not due.
			continue
		}
		period := j.schedule.every
		g := js.Claimed.At.Add(time.Duration(now.Sub(js.Claimed.At)/period+1) * period)
		if cur, ok := next[j.name]; ok && cur.Sub(g).Abs() < time.Millisecond {
			continue
		}
		_, err := sched.Update(j.gocronID, gocron.DurationJob(period), gocron.NewTask(a.fire, j),
			gocron.WithName(j.name), gocron.WithStartAt(gocron.WithStartDateTime(g)))
		if err != nil {
			a.logger.Warn("could not move a job onto the fleet's rhythm", slog.String("job", j.name), slog.String("error", err.Error()))
			continue
		}
		a.logger.Debug("job moved onto the fleet's rhythm", slog.String("job", j.name), slog.Time("next_run", g))
	}
}

// checkClock warns when the ledger holds a claim made later than this
// replica's clock says it is now: its clock is behind the fleet's (a clock
// step, a stopped NTP). Fires it would claim at instants the fleet has
// passed are refused as handled, never run twice; fires between its clock
// and the fleet's wait until its clock catches up.
func (a *App) checkClock(s ledger.State, now time.Time) {
	var behind time.Duration
	for _, js := range s.Jobs {
		if js.Claimed != nil {
			behind = max(behind, js.Claimed.Claimed.Sub(now))
		}
	}
	if behind > time.Second {
		a.metrics.LedgerError("clock_behind")
		a.logger.Warn("this replica's clock is behind the fleet's: the ledger holds a claim made later than now; check NTP",
			slog.Duration("behind", behind.Round(time.Millisecond)))
	}
}
