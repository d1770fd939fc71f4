package runs

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// line is a run record as leaderjob logs it: at the run's end, with its
// duration and its fire.
func line(slot, start time.Duration, took time.Duration, outcome string) string {
	end := t0.Add(start + took)
	return fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"job run","job":"tick","run_id":"x","outcome":%q,"duration":%d,"holder":"r1","scheduled_at":%q,"check_duration":1000}`,
		end.Format(time.RFC3339Nano), outcome, took.Nanoseconds(), t0.Add(slot).Format(time.RFC3339Nano))
}

func parseRuns(t *testing.T, replica string, lines ...string) []Run {
	t.Helper()
	var out []Run
	for _, l := range lines {
		rec, ok := Parse([]byte(l))
		if !ok {
			t.Fatalf("not parsed: %s", l)
		}
		if r, ok := RunOf(replica, rec); ok {
			out = append(out, r)
		}
	}
	return out
}

// Synthetic records of two replicas over five fires: r1 runs fires 0 and
// 1, fire 2 is run by nobody (r1 was killed), r2 runs fire 3 (and so does
// r1, back from a pause, at the same time), and r2's run of fire 4 is cut
// short (canceled), which leaves fire 4 without a completed run. A skip
// record and a text line are not runs.
func TestComputeCountsLostDoubledAndOverlaps(t *testing.T) {
	ms := time.Millisecond
	rs := parseRuns(t, "r1",
		line(0, 5*ms, 100*ms, "ran"),
		line(time.Second, time.Second+4*ms, 100*ms, "ran"),
		line(3*time.Second, 3*time.Second+50*ms, 100*ms, "ran"),
		`{"time":"2026-01-02T03:04:02.1Z","msg":"job run","job":"tick","outcome":"skipped","reason":"not_leader","duration":0,"scheduled_at":"2026-01-02T03:04:02Z"}`,
	)
	if _, ok := Parse([]byte("I0102 03:04:02 leaderelection.go:257] attempting to acquire")); ok {
		t.Error("a klog line parsed as a record")
	}
	rs = append(rs, parseRuns(t, "r2",
		line(3*time.Second, 3*time.Second+10*ms, 100*ms, "ran"),
		line(4*time.Second, 4*time.Second+2*ms, 100*ms, "canceled"),
		line(2*time.Second, 9*time.Second, 100*ms, "ran"), // fire 2, run 7s late by a catch-up
	)...)
	// Without the late catch-up run, fire 2 is lost. The window comes from
	// a clock in another zone than the records: the same instants count.
	w := Window{From: t0.In(time.FixedZone("X", 3600)), To: t0.Add(5 * time.Second)}
	f := Compute(rs[:len(rs)-1], "tick", w, time.Second, []Event{{At: t0.Add(1500 * ms), Replica: "r1"}})
	if f.Fires != 5 || f.Runs != 5 {
		t.Errorf("fires %d, runs %d; want 5 and 5", f.Fires, f.Runs)
	}
	if len(f.Lost) != 2 || !f.Lost[0].Equal(t0.Add(2*time.Second)) || !f.Lost[1].Equal(t0.Add(4*time.Second)) || f.CutShort != 1 {
		t.Errorf("lost %v, %d cut short; want the fires at +2s (not run) and +4s (cut short)", f.Lost, f.CutShort)
	}
	if len(f.Doubled) != 1 || !f.Doubled[0].Equal(t0.Add(3*time.Second)) || f.Extra != 1 {
		t.Errorf("doubled %v (extra %d); want the fire at +3s, one extra run", f.Doubled, f.Extra)
	}
	if f.Overlaps != 1 {
		t.Errorf("overlaps %d; want 1 (the two runs of +3s)", f.Overlaps)
	}
	// The event at +1.5s hit r1; the first run after it elsewhere is r2's
	// at +3.010s.
	if want := 1510 * ms; f.NextRun != want || f.NoNextRun {
		t.Errorf("next run %v (none: %v); want %v", f.NextRun, f.NoNextRun, want)
	}
	if f.LagP50 != 5*ms || f.LagP99 != 50*ms {
		t.Errorf("lag p50 %v, p99 %v; want 5ms and 50ms", f.LagP50, f.LagP99)
	}

	// With it, fire 2 is not lost, and the lag's tail is the catch-up's 7s.
	f = Compute(rs, "tick", w, time.Second, nil)
	if len(f.Lost) != 1 || f.LagP99 != 7*time.Second || f.HasEvents {
		t.Errorf("with the catch-up run: lost %v, lag p99 %v, events %v", f.Lost, f.LagP99, f.HasEvents)
	}
}

func TestNoNextRun(t *testing.T) {
	rs := parseRuns(t, "r1", line(0, 0, time.Millisecond, "ran"), line(time.Second, time.Second, time.Millisecond, "ran"))
	f := Compute(rs, "tick", Window{From: t0, To: t0.Add(2 * time.Second)}, time.Second, []Event{{At: t0.Add(500 * time.Millisecond), Replica: "r1"}})
	if !f.NoNextRun {
		t.Errorf("a run by the replica hit counted as the next run: %+v", f)
	}
}

func TestSlotsAndPercentile(t *testing.T) {
	w := Window{From: t0.Add(300 * time.Millisecond), To: t0.Add(3 * time.Second)}
	if got := w.Slots(time.Second); len(got) != 2 || !got[0].Equal(t0.Add(time.Second)) {
		t.Errorf("slots %v; want +1s and +2s", got)
	}
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond
	}
	if p50, p99 := Percentile(ds, 50), Percentile(ds, 99); p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Errorf("p50 %v p99 %v", p50, p99)
	}
	if Percentile(nil, 50) != 0 {
		t.Error("percentile of nothing")
	}
}
