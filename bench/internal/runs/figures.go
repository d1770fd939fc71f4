package runs

import (
	"slices"
	"time"
)

// Window is a stretch of the schedule: the fires whose scheduled time is in
// [From, To). Runs are counted against the fire they belong to, whenever
// they ran (a catch-up run of a fire in the window may come after To).
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Slots returns the fires of a schedule with a fire every period (aligned
// to the Unix epoch, as a six-field cron of every second is) in w.
func (w Window) Slots(period time.Duration) []time.Time {
	var out []time.Time
	first := w.From.Truncate(period)
	if first.Before(w.From) {
		first = first.Add(period)
	}
	for t := first; t.Before(w.To); t = t.Add(period) {
		out = append(out, t)
	}
	return out
}

// Event is a fault hitting one replica at one instant (a signal sent, the
// replica cut off).
type Event struct {
	At      time.Time `json:"at"`
	Replica string    `json:"replica"`
}

// Figures are what a fault cost, counted over the fires of a window.
type Figures struct {
	Fires int `json:"fires"` // scheduled fires in the window
	Runs  int `json:"runs"`  // runs of those fires, on any replica
	// Lost fires have no completed run (none, or only runs cut short);
	// Doubled fires had their job called more than once, a call cut short
	// included, since it may have had its effect (Extra counts the calls
	// beyond the first). CutShort counts the runs cut short.
	Lost     []time.Time `json:"lost"`
	Doubled  []time.Time `json:"doubled"`
	Extra    int         `json:"extra"`
	CutShort int         `json:"cut_short"`
	// Overlaps counts pairs of runs on different replicas that were going
	// at the same time.
	Overlaps int `json:"overlaps"`
	// LagP50 and LagP99 are percentiles of the runs' lag (start minus
	// scheduled time), catch-up runs included.
	LagP50 time.Duration `json:"lag_p50"`
	LagP99 time.Duration `json:"lag_p99"`
	// NextRun is, for the window's fault events, the longest time from an
	// event to the first run that started after it on a replica other
	// than the one hit; NoNextRun is set when some event had no such run.
	NextRun   time.Duration `json:"next_run"`
	NoNextRun bool          `json:"no_next_run,omitempty"`
	HasEvents bool          `json:"has_events"`
}

// Compute counts the figures of the fires in w, every period, from all the
// runs of job seen (runs of other jobs are ignored). events are the faults
// that hit the fleet in w.
func Compute(all []Run, job string, w Window, period time.Duration, events []Event) Figures {
	var rs []Run
	for _, r := range all {
		if r.Job == job {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b Run) int { return a.Start.Compare(b.Start) })

	var f Figures
	// By Unix nanoseconds: times from logs and from clocks differ in location.
	calls, completed := map[int64]int{}, map[int64]int{}
	var in []Run
	for _, r := range rs {
		if !r.Slot.Before(w.From) && r.Slot.Before(w.To) {
			k := r.Slot.Truncate(period).UnixNano()
			calls[k]++
			if r.Completed() {
				completed[k]++
			} else {
				f.CutShort++
			}
			in = append(in, r)
		}
	}
	for _, s := range w.Slots(period) {
		f.Fires++
		k := s.UnixNano()
		if completed[k] == 0 {
			f.Lost = append(f.Lost, s)
		}
		if n := calls[k]; n > 1 {
			f.Doubled = append(f.Doubled, s)
			f.Extra += n - 1
		}
	}
	f.Runs = len(in)
	f.Overlaps = overlaps(in)
	lags := make([]time.Duration, len(in))
	for i, r := range in {
		lags[i] = r.Lag()
	}
	f.LagP50, f.LagP99 = Percentile(lags, 50), Percentile(lags, 99)

	f.HasEvents = len(events) > 0
	for _, e := range events {
		d, ok := nextRun(rs, e)
		if !ok {
			f.NoNextRun = true
			continue
		}
		f.NextRun = max(f.NextRun, d)
	}
	return f
}

// overlaps counts pairs of runs (sorted by start) on different replicas
// whose spans intersect.
func overlaps(rs []Run) int {
	n := 0
	for i, a := range rs {
		for _, b := range rs[i+1:] {
			if !b.Start.Before(a.End) {
				break // sorted by start: no later run overlaps a either
			}
			if b.Replica != a.Replica {
				n++
			}
		}
	}
	return n
}

// nextRun is the time from e to the first run (rs sorted by start) that
// started after it on another replica.
func nextRun(rs []Run, e Event) (time.Duration, bool) {
	for _, r := range rs {
		if r.Start.After(e.At) && r.Replica != e.Replica {
			return r.Start.Sub(e.At), true
		}
	}
	return 0, false
}

// Percentile returns the p-th percentile (nearest rank) of ds, 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}
