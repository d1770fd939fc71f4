package leaderjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/ledger"
	"github.com/leaderjob/leaderjob/wire"
)

// ReasonPaused: an operator paused the job (Controls). The fire is
// claimed in the ledger when the job claims its fires, so that it counts
// as handled: no catch-up runs it after the resume.
const ReasonPaused = guard.Reason(wire.SkipPaused)

// reasonUnknownJob: a run request names a job the App does not have.
const reasonUnknownJob = guard.Reason(wire.SkipUnknownJob)

// Controls is how operators steer an App's jobs (in lease mode, a
// ConfigMap <app>-leaderjob-control that package kube watches, written by
// the kubectl-leaderjob plugin). The leader skips the fires of paused
// jobs, acknowledges pauses in the ledger, and runs each run request once
// fleet-wide: a request is run only within wire.RunRequestExpiry (a day)
// of its request time, and the ledger keeps each request's record twice
// as long (ledger.RunRetention), so a request still listed long after it
// ran is refused as expired, never run again. The leader logs a refused
// request once while it stays listed; the plugin removes expired requests
// from the ConfigMap when it next writes it.
type Controls interface {
	// Current returns the operators' requests as they stand now.
	Current(ctx context.Context) (wire.Control, error)
	// Changes receives a value after the requests changed. Signals
	// coalesce; the channel is never closed.
	Changes() <-chan struct{}
}

// Control is what operators asked of an App.
//
// Deprecated: use wire.Control, the same type.
type Control = wire.Control

// PauseRequest pauses a job until it is removed. With CancelRunning, a run
// of the job going when the leader sees the pause is cancelled, its
// context ending with cause ErrPaused.
//
// Deprecated: use wire.PauseRequest, the same type.
type PauseRequest = wire.PauseRequest

// ErrPaused is the cause of a run context cancelled because an operator
// paused the job with CancelRunning.
var ErrPaused = errors.New("the job was paused by an operator")

// RunRequest asks for one run of a job, whatever its schedule. A paused
// job refuses it unless Force is set.
//
// Deprecated: use wire.RunRequest, the same type.
type RunRequest = wire.RunRequest

// WithControls sets where operators' pauses and run requests come from
// (default: those the guard source brings, in lease mode; none otherwise).
func WithControls(c Controls) Option { return func(o *options) { o.controls = c } }

// controlLoop acts on the operators' requests until ctx ends: on each
// change, and when a term of this replica begins.
func (a *App) controlLoop(ctx context.Context) {
	for {
		a.applyControls(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.ctl.controls.Changes():
		case <-a.ctl.kick:
		}
	}
}

// kickControls makes the control loop look again (a term began).
func (a *App) kickControls() {
	select {
	case a.ctl.kick <- struct{}{}:
	default:
	}
}

// applyControls sets the pause gauges and, on the leader, acknowledges
// the pauses in the ledger and starts the pending run requests.
func (a *App) applyControls(ctx context.Context) {
	c, err := a.ctl.controls.Current(ctx)
	if err != nil {
		a.logger.Warn("operators' controls cannot be read", "error", err.Error())
		return
	}
	for _, j := range a.jobsSnapshot() {
		v := 0.0
		if p, ok := c.Paused[j.name]; ok {
			v = 1
			if p.CancelRunning {
				j.cancelRun(ErrPaused)
			}
		}
		a.metrics.Paused(j.name, v == 1)
	}
	d, err := a.leader.probe(ctx)
	lead := err == nil && d.Leader
	if lead {
		a.ackPauses(ctx, c, d)
	} else if a.spread == nil {
		return
	}
	a.startRequestedRuns(ctx, c, lead)
}

// ackPauses has the leader acknowledge the pauses in the ledger, and
// record the App's job names there.
func (a *App) ackPauses(ctx context.Context, c Control, d guard.Decision) {
	var names []string
	for _, j := range a.jobsSnapshot() {
		names = append(names, j.name)
	}
	slices.Sort(names)
	now := a.clock.Now().UTC()
	acks := make(map[string]wire.Pause, len(c.Paused))
	for job, p := range c.Paused {
		acks[job] = wire.Pause{By: p.By, Reason: p.Reason, Since: p.Since.UTC(), Acked: now, Holder: a.self}
	}
	var pausedNow, resumedNow []string
	tok, err := a.appToken(ctx, d)
	if err != nil {
		a.logger.Warn("the term cannot register in the ledger", "error", err.Error())
		return
	}
	wctx, cancel := context.WithTimeout(ctx, claimTimeout)
	err = a.fires.ledger.Update(wctx, func(s *ledger.State) (bool, error) {
		if err := fenced(s, d, tok, ""); err != nil {
			return false, err
		}
		pausedNow, resumedNow = pauseChanges(s.Paused, acks)
		changed := s.SetPaused(acks)
		if !slices.Equal(s.JobNames, names) {
			s.JobNames, changed = names, true
		}
		return changed, nil
	})
	cancel()
	if err != nil {
		a.logger.Warn("could not acknowledge the pauses in the ledger", "error", err.Error())
	} else {
		for _, job := range pausedNow {
			p := c.Paused[job]
			msg := fmt.Sprintf("job %s paused by %s", job, orUnknown(p.By))
			if p.Reason != "" {
				msg += ": " + p.Reason
			}
			a.notices.Notify(NoticeJobPaused, job, msg)
		}
		for _, job := range resumedNow {
			a.notices.Notify(NoticeJobResumed, job, "job "+job+" resumed")
		}
	}
}

// startRequestedRuns starts the operators' run requests this replica is
// to run: on the leader, or in spread mode those of the jobs it owns (the
// leader refuses those of unknown jobs).
func (a *App) startRequestedRuns(ctx context.Context, c Control, lead bool) {
	if len(c.Runs) == 0 {
		return
	}
	s, err := a.fires.ledger.Snapshot(ctx)
	if err != nil {
		a.logger.Warn("run requests: the ledger cannot be read", "error", err.Error())
		return
	}
	now := a.clock.Now()
	a.ctl.manualRuns.keepRefused(c.Runs)
	for id, r := range c.Runs {
		if s.Runs[id].Done() {
			continue
		}
		if !a.runsHere(r.Job, lead) {
			continue
		}
		if err := r.Check(now); err != nil {
			if a.ctl.manualRuns.refuse(id) {
				a.logger.Warn("run request refused, not run", "request_id", id, "job", r.Job, "by", r.By, "error", err.Error())
			}
			continue
		}
		if a.ctl.manualRuns.start(id) {
			go func() {
				defer a.ctl.manualRuns.end(id)
				a.requestedRun(a.life.base, id, r, c.Paused)
			}()
		}
	}
}

// inFlight is the set of run requests this process is running, and of
// those it refused (expired: logged once while they stay listed).
type inFlight struct {
	mu      sync.Mutex
	ids     map[string]bool
	refused map[string]bool
}

// refuse reports whether id was not refused yet, and notes it.
func (f *inFlight) refuse(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused[id] {
		return false
	}
	if f.refused == nil {
		f.refused = map[string]bool{}
	}
	f.refused[id] = true
	return true
}

// keepRefused forgets the refused requests no longer listed.
func (f *inFlight) keepRefused(listed map[string]wire.RunRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id := range f.refused {
		if _, ok := listed[id]; !ok {
			delete(f.refused, id)
		}
	}
}

func (f *inFlight) start(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids[id] {
		return false
	}
	if f.ids == nil {
		f.ids = map[string]bool{}
	}
	f.ids[id] = true
	return true
}

func (f *inFlight) end(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ids, id)
}

// requestedRun claims run request id in the ledger and, if this term got
// it, runs the job once (refused when the job is paused, unless forced or
// unknown) and records how it ended.
// runsHere reports whether this replica runs the requests of job: in
// spread mode its owner does, else (and for a job this App does not have)
// the leader.
func (a *App) runsHere(job string, lead bool) bool {
	a.mu.Lock()
	j, ok := a.jobs[job]
	a.mu.Unlock()
	if ok && a.spreads(j) {
		return a.spread.owner(job) == a.self
	}
	return lead
}

func (a *App) requestedRun(ctx context.Context, id string, r wire.RunRequest, paused map[string]wire.PauseRequest) {
	a.mu.Lock()
	j, known := a.jobs[r.Job]
	a.mu.Unlock()
	var d guard.Decision
	var err error
	if known && a.spreads(j) {
		d, err = a.spread.decision(r.Job)
	} else {
		d, err = a.leader.probe(ctx)
	}
	if err != nil || !d.Leader {
		return
	}
	claimID := a.fires.terms.id(a.runSeq.prefixOf(), d)
	run := wire.Run{Job: r.Job, By: r.By, Requested: r.At.UTC(), Force: r.Force, Holder: a.self,
		ClaimID: claimID, Epoch: wire.Epoch{Scope: d.EpochScope, N: d.Epoch}, Claimed: a.clock.Now().UTC()}
	wctx, cancel := context.WithTimeout(ctx, claimTimeout)
	err = a.fires.ledger.Update(wctx, func(s *ledger.State) (bool, error) {
		// A request done meanwhile (seen on a stale snapshot) is
		// ErrHandled here, read from the stored State; one that expired
		// meanwhile is ErrExpired.
		err := s.ClaimRun(id, run)
		return err == nil, err
	})
	cancel()
	switch {
	case errors.Is(err, ledger.ErrHandled):
		return
	case errors.Is(err, ledger.ErrExpired):
		if a.ctl.manualRuns.refuse(id) {
			a.logger.Warn("run request refused, not run", "request_id", id, "job", r.Job, "by", r.By, "error", err.Error())
		}
		return
	case err != nil:
		a.logger.Warn("could not claim a run request", "request_id", id, "job", r.Job, "error", err.Error())
		return
	}
	a.mu.Lock()
	j, ok := a.jobs[r.Job]
	a.mu.Unlock()
	var res Result
	_, isPaused := paused[r.Job]
	switch {
	case !ok:
		res = Result{Job: r.Job, Outcome: guard.Skipped, Reason: reasonUnknownJob}
		res.Err = fmt.Errorf("%w: %q", ErrUnknownJob, r.Job)
		a.logger.Warn("run request for an unknown job", "request_id", id, "job", r.Job)
	case isPaused && !r.Force:
		res = Result{Job: r.Job, Outcome: guard.Skipped, Reason: ReasonPaused}
		res.Err = fmt.Errorf("%w (%s): the job is paused; request the run with force to run it all the same", guard.ErrSkipped, ReasonPaused)
		a.logger.Info("run request refused: the job is paused", "request_id", id, "job", r.Job)
	default:
		res = a.runAttempt(ctx, j, &attempt{ctx: ctx, job: j, kind: manualFire, info: RunInfo{
			Job: j.name, RunID: a.runSeq.next(), ScheduledAt: r.At,
			Key: a.name + "/" + j.name + "/run/" + id,
		}})
	}
	a.metrics.ManualRun(r.Job, string(res.Outcome))
	errText := ""
	if res.Err != nil {
		errText = res.Err.Error()
	}
	outcome := wire.RunOutcome(wire.Outcome(res.Outcome), wire.SkipReason(res.Reason))
	wctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	err = a.fires.ledger.Update(wctx, func(s *ledger.State) (bool, error) {
		return true, s.CompleteRun(id, claimID, outcome, errText, res.Duration, a.clock.Now().UTC())
	})
	if err != nil {
		a.logger.Warn("could not record the end of a run request", "request_id", id, "job", r.Job, "error", err.Error())
	}
}

// paused tells whether an operator paused job name (false when the
// controls cannot be read: a warning, and the fire goes on).
func (a *App) paused(ctx context.Context, name string) bool {
	if a.ctl.controls == nil {
		return false
	}
	c, err := a.ctl.controls.Current(ctx)
	if err != nil {
		// At most one warning a minute: a missing grant would otherwise
		// warn on every fire.
		now := time.Now()
		if last := a.ctl.warned.Load(); last == 0 || now.Sub(time.Unix(0, last)) >= time.Minute {
			a.ctl.warned.Store(now.UnixNano())
			a.logger.LogAttrs(ctx, slog.LevelWarn, "operators' controls cannot be read; fires are not held by pauses", slog.String("job", name), slog.String("error", err.Error()))
		}
		return false
	}
	_, ok := c.Paused[name]
	return ok
}

// pauseChanges names the jobs paused in next but not in acked, and those
// acked but no longer paused, in name order.
func pauseChanges(acked map[string]wire.Pause, next map[string]wire.Pause) (paused, resumed []string) {
	for job := range next {
		if _, ok := acked[job]; !ok {
			paused = append(paused, job)
		}
	}
	for job := range acked {
		if _, ok := next[job]; !ok {
			resumed = append(resumed, job)
		}
	}
	slices.Sort(paused)
	slices.Sort(resumed)
	return paused, resumed
}

func orUnknown(s string) string {
	if s == "" {
		return "an unnamed operator"
	}
	return s
}
