package plan

import (
	"slices"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// every10s is a cron job firing on every tenth second.
func every10s(after time.Time) time.Time {
	return after.Truncate(10 * time.Second).Add(10 * time.Second)
}

// record builds a job's ledger record: completed claims at the given
// offsets (the newest is Claimed), by claim id "earlier".
func record(claims ...time.Duration) *wire.JobState {
	if len(claims) == 0 {
		return nil
	}
	js := &wire.JobState{}
	for i, c := range claims {
		if i < len(claims)-1 {
			js.Recent = append([]time.Time{at(c)}, js.Recent...)
		}
	}
	last := at(claims[len(claims)-1])
	js.Claimed = &wire.Claim{Job: "j", At: last, ClaimID: "earlier", Claimed: last}
	js.Completed = &wire.Completion{Job: "j", At: last, ClaimID: "earlier", Outcome: "ran", Ended: last}
	return js
}

// withOpen adds an open claim of the fire at offset by claim id.
func withOpen(js *wire.JobState, offset time.Duration, id string) *wire.JobState {
	js.Open = append(js.Open, wire.Claim{Job: "j", At: at(offset), ClaimID: id})
	js.Recent = append(js.Recent, at(offset))
	return js
}

func offsets(ts []time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range ts {
		out = append(out, t.Sub(t0))
	}
	return out
}

func TestMissed(t *testing.T) {
	const s = time.Second
	ms := time.Millisecond
	open := func(js *wire.JobState) *wire.JobState { js.Completed = nil; return js }
	ours := func(js *wire.JobState) *wire.JobState {
		js.Claimed.ClaimID = "this-term"
		js.Completed = nil
		return js
	}
	future := func(js *wire.JobState) *wire.JobState {
		js.Recent = append(js.Recent, t0.AddDate(1000, 0, 0)) // a hand edit: a claim a thousand years ahead
		return js
	}
	for _, tc := range []struct {
		name        string
		job         Job
		js          *wire.JobState
		now         time.Duration
		want        []time.Duration
		wantDropped int
	}{
		{"off: nothing", Job{Kind: Cron, Next: every10s}, record(0), 60 * s, nil, 0},
		{"cron: the fires after the newest claim, within the window", Job{Kind: Cron, Next: every10s, Window: 25 * s}, record(0, 10*s), 50 * s,
			[]time.Duration{30 * s, 40 * s, 50 * s}, 0},
		{"cron: nothing known before the fleet's first claim", Job{Kind: Cron, Next: every10s, Window: time.Minute}, nil, 50 * s, nil, 0},
		{"cron: a claim its term never completed is run again", Job{Kind: Cron, Next: every10s, Window: time.Minute}, open(record(0, 10*s)), 15 * s,
			[]time.Duration{10 * s}, 0},
		{"cron: this term's own claim is not", Job{Kind: Cron, Next: every10s, Window: time.Minute}, ours(record(0, 10*s)), 15 * s, nil, 0},
		{"cron: latest runs the newest only", Job{Kind: Cron, Next: every10s, Window: time.Minute, Latest: true}, record(0), 45 * s,
			[]time.Duration{40 * s}, 0},
		{"cron: the cap keeps the newest and counts the rest", Job{Kind: Cron, Next: every10s, Window: time.Hour, Max: 2}, record(0), 50 * s,
			[]time.Duration{40 * s, 50 * s}, 3},
		{"fixed rate: a gap between drifting claims", Job{Kind: FixedRate, Every: 10 * s, Window: time.Minute},
			record(0, 10*s+2*ms, 20*s+4*ms, 50*s+10*ms), 55 * s, []time.Duration{30*s + 4*ms, 40*s + 4*ms}, 0},
		{"fixed rate: drift and no gap", Job{Kind: FixedRate, Every: 10 * s, Window: time.Minute},
			record(0, 10*s+2*ms, 20*s+4*ms, 30*s+6*ms), 35 * s, nil, 0},
		{"fixed rate: a claim far in the future stalls nothing", Job{Kind: FixedRate, Every: time.Millisecond, Window: 3 * ms},
			future(record(0, 1*ms)), 5 * ms, []time.Duration{2 * ms, 3 * ms, 4 * ms, 5 * ms}, 0},
		{"cron: an open older claim whose term died is run again", Job{Kind: Cron, Next: every10s, Window: time.Minute},
			withOpen(record(0, 20*s), 10*s, "earlier"), 25 * s, []time.Duration{10 * s}, 0},
		{"cron: an open older claim of this term is not", Job{Kind: Cron, Next: every10s, Window: time.Minute},
			withOpen(record(0, 20*s), 10*s, "this-term"), 25 * s, nil, 0},
		{"fixed delay: one period after the last end", Job{Kind: FixedDelay, Every: 10 * s, Window: time.Minute}, record(0), 30 * s,
			[]time.Duration{10 * s}, 0},
		{"once: made by this process and not done", Job{Kind: Once, Fired: true}, open(record(0)), 30 * s, []time.Duration{30 * s}, 0},
		{"once: done", Job{Kind: Once, Fired: true}, record(0), 30 * s, nil, 0},
		{"once: not made by this process", Job{Kind: Once}, nil, 30 * s, nil, 0},
		{"once: this term's own run", Job{Kind: Once, Fired: true}, ours(record(0)), 30 * s, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, dropped, _ := Missed(tc.job, tc.js, at(tc.now), "this-term")
			if !slices.Equal(offsets(got), tc.want) || dropped != tc.wantDropped {
				t.Errorf("Missed = %v (dropped %d), want %v (dropped %d)", offsets(got), dropped, tc.want, tc.wantDropped)
			}
		})
	}
}

// A year of a per-second cron job with a day's window: the plan looks at a
// bounded number of fires, and returns at most Max.
func TestMissedIsBounded(t *testing.T) {
	perSecond := func(after time.Time) time.Time { return after.Truncate(time.Second).Add(time.Second) }
	j := Job{Kind: Cron, Next: perSecond, Window: 24 * time.Hour, Max: 100}
	steps := 0
	j.Next = func(after time.Time) time.Time { steps++; return perSecond(after) }
	got, dropped, _ := Missed(j, record(0), at(365*24*time.Hour), "t")
	if len(got) != 100 || dropped == 0 || steps > maxCronSteps+5 {
		t.Errorf("%d fires, %d dropped, %d steps; want 100, some dropped, at most %d steps", len(got), dropped, steps, maxCronSteps+5)
	}
}

// In the repeated hour of a DST fall-back the scheduler runs 02:30 once
// (it drops a fire whose wall-clock time equals the previous one), so the
// second 02:30 is not a missed fire, whether the window starts before the
// first 02:30 or between the two.
func TestMissedFallBack(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	daily := func(after time.Time) time.Time {
		// 02:30 Berlin time, both instants of the repeated hour, as Spring's search finds them.
		for _, c := range []time.Time{first, first.Add(time.Hour), time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC)} {
			if c.After(after) {
				return c
			}
		}
		return time.Time{}
	}
	j := Job{Kind: Cron, Next: daily, Zone: berlin, Window: 2 * time.Hour}
	js := &wire.JobState{Claimed: &wire.Claim{Job: "j", At: first.Add(-24 * time.Hour), ClaimID: "old"},
		Completed: &wire.Completion{Job: "j", At: first.Add(-24 * time.Hour), ClaimID: "old", Outcome: "ran"},
		Recent:    []time.Time{first.Add(-24 * time.Hour)}}
	now := first.Add(90 * time.Minute) // 02:00 CET, after both 02:30s
	if got, _, _ := Missed(j, js, now, "t"); len(got) != 1 || !got[0].Equal(first) {
		t.Errorf("window over both: missed %v, want only the first 02:30 (%v)", got, first)
	}
	j.Window = 40 * time.Minute // starts between the two
	if got, _, _ := Missed(j, js, now, "t"); len(got) != 0 {
		t.Errorf("window between them: missed %v, want none (the scheduler ran the first)", got)
	}
}

func TestSlot(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct{ t, want time.Duration }{
		{0, 0}, {4 * s, 0}, {6 * s, 10 * s}, {10*s + 3*time.Millisecond, 10 * s}, {-4 * s, 0}, {-6 * s, -10 * s}, {125 * s, 120 * s},
	} {
		if got := Slot(t0, 10*s, at(tc.t)); !got.Equal(at(tc.want)) {
			t.Errorf("Slot(+%v) = +%v, want +%v", tc.t, got.Sub(t0), tc.want)
		}
	}
}
