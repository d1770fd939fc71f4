package ledger

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/wire"
)

// size is the stored size of s, as a backend writes it.
func size(t *testing.T, s State) int {
	t.Helper()
	b, err := wire.EncodeLedger(wire.Ledger(s))
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// run claims and completes one fire of job at at, made and ended at at.
func run(t *testing.T, s *State, job string, at time.Time, id string, errText string) {
	t.Helper()
	if r := s.Claim(Claim{Job: job, At: at, Key: "k", Epoch: Epoch{Scope: "s", N: 1}, ClaimID: id, Holder: "pod", Claimed: at}, at); r.Err != nil {
		t.Fatalf("claim of %s at %v: %v", job, at, r.Err)
	}
	outcome := "ran"
	if errText != "" {
		outcome = "failed"
	}
	if err := s.Complete(Completion{Job: job, At: at, ClaimID: id, Holder: "pod", Outcome: outcome, Error: errText, Ended: at}); err != nil {
		t.Fatalf("completion of %s at %v: %v", job, at, err)
	}
}

// 10,000 releases of an app with a one-shot job, five a day: the stored
// state keeps the newest ReleasesKept releases' records and stays small.
func TestTenThousandReleases(t *testing.T) {
	var s State
	var largest int
	for i := range 10_000 {
		at := t0.Add(time.Duration(i) * 5 * time.Hour)
		run(t, &s, fmt.Sprintf("migrate@v1.%d.0-%08x", i, i*7919), time.Unix(0, 0).UTC(), fmt.Sprintf("t%d", i), "")
		s.Jobs[fmt.Sprintf("migrate@v1.%d.0-%08x", i, i*7919)].Claimed.Claimed = at
		s.PruneReleases("migrate")
		if i%500 == 0 || i == 9_999 {
			largest = max(largest, size(t, s))
		}
	}
	if n := len(s.Jobs); n != ReleasesKept {
		t.Errorf("%d one-shot records after 10,000 releases, want %d", n, ReleasesKept)
	}
	const bound = 32 << 10
	if largest > bound {
		t.Errorf("stored state reached %d bytes, over the bound of %d", largest, bound)
	}
	t.Logf("10,000 releases: %d records, at most %d bytes stored", len(s.Jobs), largest)
}

// secondsSpan is how long TestAYearOfFires runs a per-second job: a day,
// or a year with LEADERJOB_SIMULATE_YEAR=1 (about a minute).
func secondsSpan() time.Duration {
	if os.Getenv("LEADERJOB_SIMULATE_YEAR") != "" {
		return 365 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// A year of a per-minute job, and a day (or a year) of a per-second one:
// a job's record is the same size however long its history.
func TestAYearOfFires(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		span  time.Duration
	}{{time.Minute, 365 * 24 * time.Hour}, {time.Second, secondsSpan()}} {
		var s State
		var sizes []int
		fires := int(tc.span / tc.every)
		for i := range fires {
			errText := ""
			if i%97 == 0 {
				errText = strings.Repeat("\"quoted\" failure ", 40)
			}
			run(t, &s, "report", t0.Add(time.Duration(i)*tc.every), "t", errText)
			if i == fires/2 || i == fires-1 {
				sizes = append(sizes, size(t, s))
			}
		}
		if sizes[1] > sizes[0]+MaxErrorLen*2 || sizes[1] > 16<<10 {
			t.Errorf("every %v for %v: stored %d bytes half-way, %d at the end; want it bounded (at most 16 KiB)", tc.every, tc.span, sizes[0], sizes[1])
		}
		t.Logf("every %v for %v: %d bytes stored at the end", tc.every, tc.span, sizes[1])
	}
}

// Records of jobs the App no longer schedules go after IdleGrace; the
// others stay however old.
func TestPruneIdle(t *testing.T) {
	var s State
	run(t, &s, "kept", t0, "t", "")
	run(t, &s, "removed", t0, "t", "")
	run(t, &s, "removed-lately", t0.Add(IdleGrace), "t", "")
	now := t0.Add(IdleGrace + time.Hour)
	if !s.PruneIdle(func(job string) bool { return job == "kept" }, now) {
		t.Fatal("nothing pruned")
	}
	for job, want := range map[string]bool{"kept": true, "removed": false, "removed-lately": true} {
		if _, ok := s.Jobs[job]; ok != want {
			t.Errorf("record of %s kept: %v, want %v", job, ok, want)
		}
	}
}

// The largest record one job can have: 64-byte names, ids and holders,
// full error excerpts that JSON escapes, a full history, RecentLen recent
// instants and OpenLen open claims. Stated in docs/measured.md.
func TestWorstJobRecord(t *testing.T) {
	var s State
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	job := long("j", 64)
	for i := range RecentLen + OpenLen {
		c := Claim{Job: job, At: t0.Add(time.Duration(i) * time.Minute), Key: long("k", 100), Epoch: Epoch{Scope: long("u", 36), N: 1 << 40},
			ClaimID: long("c", 64), Holder: long("h", 63), Claimed: t0}
		if r := s.Claim(c, t0); r.Err != nil {
			t.Fatal(r.Err)
		}
		if i < RecentLen { // the newest OpenLen stay open
			if err := s.Complete(Completion{Job: job, At: c.At, ClaimID: c.ClaimID, Holder: c.Holder,
				Outcome: "panicked", Duration: time.Hour, Error: long(`"`, 1000), Ended: t0}); err != nil {
				t.Fatal(err)
			}
		}
	}
	js := s.Jobs[job]
	if len(js.Open) != OpenLen-1 || len(js.Recent) != RecentLen || len(js.History) != HistoryLen {
		t.Fatalf("open %d, recent %d, history %d: not the worst case", len(js.Open), len(js.Recent), len(js.History))
	}
	n := size(t, s)
	t.Logf("the largest job record: %d bytes", n)
	if n > 24<<10 {
		t.Errorf("a job's record is %d bytes, over the stated 24 KiB", n)
	}
}
