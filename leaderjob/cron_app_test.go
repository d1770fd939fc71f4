package leaderjob_test

import (
	"context"
	"testing"
	"time"
	_ "time/tzdata" // zone data on machines without /usr/share/zoneinfo

	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// The App evaluates cron with Spring's rules: day-of-month AND day-of-week.
// gocron's default parser would fire on every Friday and every 13th.
func TestCronUsesSpringSemantics(t *testing.T) {
	h := leaderjobtest.New(t) // the fake clock starts on Monday 2026-01-05 UTC
	noErr(t, h.App.Schedule("friday-13th", leaderjob.Cron("0 0 0 13 * FRI").InZone("UTC"), func(context.Context) error { return nil }))
	h.Start()
	h.Advance(time.Date(2026, 2, 13, 0, 0, 0, 0, time.UTC).Sub(h.Clock.Now()))
	r := h.Await("friday-13th")
	if want := time.Date(2026, 2, 13, 0, 0, 0, 0, time.UTC); !r.ScheduledAt.Equal(want) {
		t.Fatalf("first fire at %v, want %v", r.ScheduledAt, want)
	}
	if n := len(h.Results()); n != 1 {
		t.Fatalf("%d runs, want exactly the one on Friday the 13th", n)
	}
}

func TestCronInItsZone(t *testing.T) {
	h := leaderjobtest.New(t)
	noErr(t, h.App.Schedule("berlin-2am", leaderjob.Cron("0 0 2 * * *").InZone("Europe/Berlin"), func(context.Context) error { return nil }))
	h.Start()
	h.Advance(time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC).Sub(h.Clock.Now())) // 02:00 CET = 01:00 UTC
	r := h.Await("berlin-2am")
	if want := time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC); !r.ScheduledAt.Equal(want) {
		t.Fatalf("fired at %v, want %v (02:00 in Berlin)", r.ScheduledAt.UTC(), want)
	}
}

// In the repeated hour of a fall-back, Spring fires 02:30 twice (once per
// offset); gocron drops a fire whose wall-clock time equals the previous
// one, so leaderjob runs a daily 02:30 job once that night. The README lists
// this as a difference.
func TestCronFallBackFiresOnce(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h := leaderjobtest.New(t, leaderjobtest.WithStartTime(time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC)))
	noErr(t, h.App.Schedule("nightly", leaderjob.Cron("0 30 2 * * *").InZone(berlin.String()), func(context.Context) error { return nil }))
	want := []time.Time{
		time.Date(2026, 10, 25, 2, 30, 0, 0, berlin).Add(-time.Hour), // 02:30 CEST, the first of the two
		time.Date(2026, 10, 26, 2, 30, 0, 0, berlin),
	}
	h.Start()
	// Step through two days in quarter hours, collecting each run as soon as
	// its instant is crossed so the clock stands still while it runs.
	var got []time.Time
	for range 2 * 24 * 4 {
		before := h.Clock.Now()
		h.Advance(15 * time.Minute)
		for _, w := range want {
			if w.After(before) && !w.After(h.Clock.Now()) {
				got = append(got, h.Await("nightly").ScheduledAt)
			}
		}
	}
	for i, w := range want {
		if !got[i].Equal(w) {
			t.Fatalf("fire %d at %v, want %v", i, got[i].In(berlin), w.In(berlin))
		}
	}
	if n := len(h.Results()); n != len(want) {
		t.Fatalf("%d fires, want %d", n, len(want))
	}
}

// In a fall-back overlap that is not a whole hour (Lord Howe goes back 30
// minutes), Spring's search finds no time after a fire inside the overlap;
// the schedule must go on the next day all the same.
func TestCronGoesOnAfterAHalfHourFallBack(t *testing.T) {
	loc, err := time.LoadLocation("Australia/Lord_Howe")
	if err != nil {
		t.Fatal(err)
	}
	h := leaderjobtest.New(t, leaderjobtest.WithStartTime(time.Date(2021, 4, 3, 12, 0, 0, 0, loc)))
	var runs []time.Time
	noErr(t, h.App.Schedule("daily", leaderjob.Cron("0 0 1 * * *").InZone(loc.String()), func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		runs = append(runs, info.ScheduledAt)
		return nil
	}))
	h.Start()
	h.Advance(4 * 24 * time.Hour)
	if len(runs) != 4 {
		t.Fatalf("%d runs %v, want one a day for 4 days", len(runs), runs)
	}
	if want := time.Date(2021, 4, 5, 1, 0, 0, 0, loc); !runs[1].Equal(want) {
		t.Fatalf("run after the overlap at %v, want %v", runs[1], want)
	}
}
