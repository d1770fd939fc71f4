// Package plan decides which fires of a job a new leader runs late: pure
// functions of the job's schedule and policy, its record in the fleet's
// ledger, the time and the caller's term. No clock, no I/O, no App.
package plan

import (
	"slices"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// Kind is a schedule's kind.
type Kind int

// The kinds of schedule.
const (
	Cron Kind = iota + 1
	FixedRate
	FixedDelay
	Once
)

// Job is a claimed job as the planner sees it.
type Job struct {
	Kind Kind
	// Next is the cron schedule's first fire after a time, in the job's
	// zone (zero when none); Kind Cron only.
	Next func(after time.Time) time.Time
	// Zone is the cron schedule's zone: an instant whose wall-clock time
	// there equals the previous fire's (the repeated hour of a DST
	// fall-back) is not a fire, as the scheduler drops it too.
	Zone *time.Location
	// Every is the period of FixedRate and FixedDelay.
	Every time.Duration
	// Window is how far back before now missed fires are run; 0 runs
	// none (the policy is off). Once ignores it.
	Window time.Duration
	// Latest runs only the newest missed fire, and none older than the
	// newest claim (the latest policy; always so for FixedDelay).
	Latest bool
	// Fired: this process has made the job's fire (Once only: its own
	// scheduler makes the others).
	Fired bool
	// Max bounds the fires returned (the newest are kept); 0 is no bound.
	Max int
}

// maxCronSteps bounds the cron fires one plan looks at, whatever the
// window holds (a per-second job and a day's window): the walk costs at
// most this much.
const maxCronSteps = 10_000

// Missed lists the fires of j that js, its record in the ledger, shows as
// missed at now, oldest first: fires due within the window that no term
// claimed, and the claims (the newest and the open older ones) whose term
// never completed them. A claim
// made by term (the caller's current term) is the caller's own run, going
// or done, and never missed. dropped counts the missed fires left out by
// j.Max, and gaveUp is the newest of them: the caller records it
// (JobState.GaveUp) so that no later plan runs them either. The latest
// policy's older fires are given up, not dropped.
//
// Nothing is known to be missed before the fleet's first claim of the job.
// Claims after now (a clock behind the fleet's, or a hand edit) bound
// nothing: every walk stops at now.
func Missed(j Job, js *wire.JobState, now time.Time, term string) (fires []time.Time, dropped int, gaveUp time.Time) {
	if j.Kind == Once {
		// Only a one-shot fire this process has made (and skipped, as a
		// standby) or whose run died.
		done := js != nil && js.Completed != nil && js.Claimed != nil && js.Completed.ClaimID == js.Claimed.ClaimID
		ours := js != nil && js.Claimed != nil && js.Claimed.ClaimID == term
		if !done && !ours && j.Fired {
			return []time.Time{now}, 0, time.Time{}
		}
		return nil, 0, time.Time{}
	}
	if j.Window <= 0 {
		return nil, 0, time.Time{}
	}
	from := now.Add(-j.Window)
	latest := j.Latest || j.Kind == FixedDelay
	var last time.Time
	if js != nil && js.Claimed != nil {
		last = js.Claimed.At
		dead := js.Completed == nil || !js.Completed.At.Equal(last) || js.Completed.ClaimID != js.Claimed.ClaimID
		if dead && js.Claimed.ClaimID != term && !last.Before(from) && !last.After(now) {
			fires = append(fires, last) // claimed by a term that never completed it
		}
	}
	if js != nil {
		for _, o := range js.Open {
			// Claimed by a term that never completed it.
			if o.ClaimID != term && !o.At.Before(from) && !o.At.After(now) {
				fires = append(fires, o.At)
			}
		}
	}
	add := func(t time.Time) {
		if latest && !t.After(last) {
			return // latest looks only past the newest claim: older fires are given up
		}
		if !t.Before(from) && !t.After(now) && !js.Handled(t) {
			fires = append(fires, t)
		}
	}
	switch j.Kind {
	case Cron:
		if last.IsZero() || j.Next == nil {
			break
		}
		n := 0
		prev := j.previousWall(j.Next(from.Add(-time.Nanosecond)))
		for next := j.Next(from.Add(-time.Nanosecond)); !next.IsZero() && !next.After(now) && n < maxCronSteps; next = j.Next(next) {
			if wall := j.wall(next); wall != prev {
				add(next)
				prev = wall
			}
			n++
		}
	case FixedRate:
		if last.IsZero() || j.Every <= 0 {
			break
		}
		fixedRate(j.Every, last, js.Recent, from, now, add)
	case FixedDelay:
		if js != nil && js.Completed != nil {
			add(js.Completed.Ended.Add(j.Every))
		}
	}
	slices.SortFunc(fires, time.Time.Compare)
	fires = slices.CompactFunc(fires, time.Time.Equal)
	switch {
	case len(fires) == 0:
		return nil, 0, time.Time{}
	case latest:
		return fires[len(fires)-1:], 0, time.Time{}
	case j.Max > 0 && len(fires) > j.Max:
		cut := len(fires) - j.Max
		return fires[cut:], cut, fires[cut-1]
	}
	return fires, 0, time.Time{}
}

// wall is t's wall-clock time in the job's zone.
func (j Job) wall(t time.Time) time.Time {
	zone := j.Zone
	if zone == nil {
		zone = time.UTC
	}
	y, mo, d := t.In(zone).Date()
	h, mi, s := t.In(zone).Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// previousWall is the wall-clock time of the fire that the schedule made
// just before first if it was the same wall-clock time (first is then the
// repeat of a fall-back overlap), else the zero time.
func (j Job) previousWall(first time.Time) time.Time {
	if first.IsZero() {
		return time.Time{}
	}
	for _, back := range []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour} {
		u := first.Add(-back)
		if j.wall(u) == j.wall(first) && j.Next(u.Add(-time.Nanosecond)).Equal(u) {
			return j.wall(u)
		}
	}
	return time.Time{}
}

// fixedRate finds a fixed-rate job's missed fires. The fleet's fires are its
// claimed instants; a fixed-rate scheduler counts each period from when the
// last fire started, so the instants drift by a few milliseconds a fire. A
// fire is missed where two claims, or the newest claim and now, are more
// than half a period further apart than whole periods account for, never
// where a grid through one claim misses another by a millisecond (that
// would run a fire twice). Each walk starts at the window and stops at now:
// a long gap, or a claim far in the future, costs no more than the window
// holds.
func fixedRate(every time.Duration, last time.Time, recent []time.Time, from, now time.Time, add func(time.Time)) {
	claims := append([]time.Time{last}, recent...)
	slices.SortFunc(claims, time.Time.Compare)
	claims = slices.CompactFunc(claims, time.Time.Equal)
	for i := 1; i < len(claims); i++ {
		if claims[i].Before(from) {
			continue
		}
		for next := stepTo(claims[i-1].Add(every), from, every); claims[i].Sub(next) > every/2 && !next.After(now); next = next.Add(every) {
			add(next)
		}
	}
	for next := stepTo(last.Add(every), from, every); !next.After(now); next = next.Add(every) {
		add(next)
	}
}

// Slot is the instant of the grid anchor + k·every nearest to t.
func Slot(anchor time.Time, every time.Duration, t time.Time) time.Time {
	d := t.Sub(anchor)
	k := d / every
	if r := d - k*every; r > every/2 {
		k++
	} else if r < -every/2 {
		k--
	}
	return anchor.Add(k * every)
}

// stepTo returns the first of t, t+every, t+2·every, ... not before from.
func stepTo(t, from time.Time, every time.Duration) time.Time {
	if !t.Before(from) {
		return t
	}
	t = t.Add(from.Sub(t) / every * every)
	if t.Before(from) {
		t = t.Add(every)
	}
	return t
}
