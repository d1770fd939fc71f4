package leaderjobtest_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// counter is a job as a user writes one: it counts its runs and remembers
// when they were scheduled.
type counter struct {
	mu  sync.Mutex
	at  []time.Time
	ctx []context.Context
}

func (c *counter) job(ctx context.Context) error {
	info, _ := leaderjob.RunInfoFrom(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = append(c.at, info.ScheduledAt)
	c.ctx = append(c.ctx, ctx)
	return nil
}

func (c *counter) runs() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

// Every fire whose instant lies in (T0, T0+d] runs exactly once, in order,
// plus the start-up fire of fixed-rate, fixed-delay and one-shot jobs, and
// nothing runs after Advance has returned. Each case runs in a synctest
// bubble, so that "nothing runs after" is checked once every goroutine of
// the App and the scheduler is blocked, not after a while.
func TestAdvanceRunsEachFireOnce(t *testing.T) {
	minute := time.Minute
	for _, tc := range []struct {
		name     string
		schedule leaderjob.Schedule
		advance  time.Duration
		want     []time.Duration // offsets from T0 of the expected runs
	}{
		{"fixed rate 15s", leaderjob.FixedRate(15 * time.Second), minute, offsets(0, 15, 30, 45, 60)},
		{"fixed delay 15s", leaderjob.FixedDelay(15 * time.Second), minute, offsets(0, 15, 30, 45, 60)},
		{"cron every 15s", leaderjob.Cron("*/15 * * * * *"), minute, offsets(15, 30, 45, 60)},
		{"hourly cron", leaderjob.Cron("0 0 * * * *"), minute, nil},
		{"hourly cron over two hours", leaderjob.Cron("0 0 * * * *"), 2*time.Hour + time.Second, offsets(3600, 7200)},
		{"once", leaderjob.Once(), time.Hour, offsets(0)},
		{"once after a delay", leaderjob.Once().WithInitialDelay(30 * time.Second), time.Hour, offsets(30)},
		{"fixed rate after a delay", leaderjob.FixedRate(20 * time.Second).WithInitialDelay(30 * time.Second), minute, offsets(30, 50)},
		{"fixed delay after a delay", leaderjob.FixedDelay(20 * time.Second).WithInitialDelay(30 * time.Second), minute, offsets(30, 50)},
		{"disabled", leaderjob.Cron(leaderjob.Disabled), time.Hour, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := leaderjobtest.New(t)
				var c counter
				must(t, h.App.Schedule("job", tc.schedule, c.job))
				t0 := h.Clock.Now()
				h.Start()
				h.Advance(tc.advance)
				got := c.runs()
				if len(got) != len(tc.want) {
					t.Fatalf("%d runs %v, want %d", len(got), got, len(tc.want))
				}
				for i, at := range got {
					if want := t0.Add(tc.want[i]); !at.Equal(want) {
						t.Errorf("run %d scheduled at %v, want %v", i, at, want)
					}
				}
				if rs := h.Results(); len(rs) != len(tc.want) {
					t.Errorf("%d results, want %d: %+v", len(rs), len(tc.want), rs)
				}
				// Nothing keeps firing once Advance has returned.
				synctest.Wait()
				if n := len(c.runs()); n != len(tc.want) {
					t.Fatalf("%d runs after Advance returned, want %d", n, len(tc.want))
				}
			})
		})
	}
}

func offsets(seconds ...int) []time.Duration {
	d := make([]time.Duration, len(seconds))
	for i, s := range seconds {
		d[i] = time.Duration(s) * time.Second
	}
	return d
}

// Many small advances and one large advance give the same runs.
func TestAdvanceInStepsOrAtOnce(t *testing.T) {
	run := func(steps int) []time.Time {
		h := leaderjobtest.New(t)
		var c counter
		must(t, h.App.Schedule("job", leaderjob.FixedRate(7*time.Second), c.job))
		h.Start()
		for range steps {
			h.Advance(10 * time.Minute / time.Duration(steps))
		}
		return c.runs()
	}
	once, stepped := run(1), run(37)
	if len(once) != 1+600/7 || len(stepped) != len(once) {
		t.Fatalf("%d runs in one advance, %d in steps; want %d", len(once), len(stepped), 1+600/7)
	}
	for i := range once {
		if !once[i].Equal(stepped[i]) {
			t.Fatalf("run %d at %v in one advance, %v in steps", i, once[i], stepped[i])
		}
	}
}

// A day of a per-minute cron job, among other jobs.
func TestAdvanceADayOfAMinutelyCron(t *testing.T) {
	h := leaderjobtest.New(t)
	var minutely, hourly, rate counter
	must(t, h.App.Schedule("minutely", leaderjob.Cron("0 * * * * *"), minutely.job))
	must(t, h.App.Schedule("hourly", leaderjob.Cron("@hourly"), hourly.job))
	must(t, h.App.Schedule("rate", leaderjob.FixedRate(10*time.Minute), rate.job))
	t0 := h.Clock.Now()
	h.Start()
	h.Advance(24 * time.Hour)
	if n := len(minutely.runs()); n != 24*60 {
		t.Errorf("minutely: %d runs, want %d", n, 24*60)
	}
	if n := len(hourly.runs()); n != 24 {
		t.Errorf("hourly: %d runs, want 24", n)
	}
	if n := len(rate.runs()); n != 1+24*6 {
		t.Errorf("fixed rate 10m: %d runs, want %d", n, 1+24*6)
	}
	for i, at := range minutely.runs() {
		if want := t0.Add(time.Duration(i+1) * time.Minute); !at.Equal(want) {
			t.Fatalf("minutely run %d at %v, want %v", i, at, want)
		}
	}
	if h.Clock.Now() != t0.Add(24*time.Hour) {
		t.Fatalf("clock at %v after the advance", h.Clock.Now())
	}
}

// Across DST changes a cron job keeps Spring's rules (a time in the gap is
// skipped; a time in the repeated hour fires once, see the README), and a
// fixed rate counts real time.
func TestAdvanceAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		start     time.Time
		schedule  leaderjob.Schedule
		advance   time.Duration
		wantRuns  int
		wantFirst time.Time
	}{
		// 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
		{"daily 02:30 over spring forward", time.Date(2026, 3, 27, 12, 0, 0, 0, berlin),
			leaderjob.Cron("0 30 2 * * *").InZone(berlin.String()), 4 * 24 * time.Hour, 3, time.Date(2026, 3, 28, 2, 30, 0, 0, berlin)},
		// 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, runs once.
		{"daily 02:30 over fall back", time.Date(2026, 10, 23, 12, 0, 0, 0, berlin),
			leaderjob.Cron("0 30 2 * * *").InZone(berlin.String()), 4 * 24 * time.Hour, 4, time.Date(2026, 10, 24, 2, 30, 0, 0, berlin)},
		{"every 30 minutes over spring forward", time.Date(2026, 3, 29, 0, 0, 0, 0, berlin),
			leaderjob.Cron("0 */30 * * * *").InZone(berlin.String()), 6 * time.Hour, 12, time.Date(2026, 3, 29, 0, 30, 0, 0, berlin)},
		{"fixed rate 1h over fall back", time.Date(2026, 10, 25, 0, 0, 0, 0, berlin),
			leaderjob.FixedRate(time.Hour), 6 * time.Hour, 7, time.Date(2026, 10, 25, 0, 0, 0, 0, berlin)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := leaderjobtest.New(t, leaderjobtest.WithStartTime(tc.start))
			var c counter
			must(t, h.App.Schedule("job", tc.schedule, c.job))
			h.Start()
			h.Advance(tc.advance)
			got := c.runs()
			if len(got) != tc.wantRuns {
				t.Fatalf("%d runs %v, want %d", len(got), got, tc.wantRuns)
			}
			if !got[0].Equal(tc.wantFirst) {
				t.Errorf("first run at %v, want %v", got[0], tc.wantFirst)
			}
			for i := 1; i < len(got); i++ {
				if !got[i].After(got[i-1]) {
					t.Fatalf("runs out of order: %v", got)
				}
			}
		})
	}
}

// Runs on the fake clock get what production runs get: a run context with
// RunInfo and the guard's Decision, and one Result each.
func TestAdvanceRunsAsInProduction(t *testing.T) {
	h := leaderjobtest.New(t)
	var c counter
	must(t, h.App.Schedule("job", leaderjob.Cron("*/10 * * * * *"), c.job))
	h.Start()
	h.Advance(30 * time.Second)
	for i, ctx := range c.ctx {
		info, ok := leaderjob.RunInfoFrom(ctx)
		if !ok || info.Job != "job" || info.RunID == "" || !info.Decision.Leader || info.Decision.Holder != leaderjobtest.Identity {
			t.Fatalf("run %d: RunInfo %+v, %v", i, info, ok)
		}
	}
	for i := range 3 {
		r := h.Await("job")
		if r.Outcome != guard.Ran || !r.ScheduledAt.Equal(c.runs()[i]) {
			t.Fatalf("result %d: %s at %v", i, r.Outcome, r.ScheduledAt)
		}
	}
	// A follower's fires are skipped, one record each.
	h.Guard.SetFollower("pod-b")
	h.Advance(30 * time.Second)
	if n := len(c.runs()); n != 3 {
		t.Fatalf("%d runs as a follower, want none beyond the 3 before", n)
	}
	for range 3 {
		if r := h.Await("job"); r.Outcome != guard.Skipped || r.Reason != guard.ReasonNotLeader {
			t.Fatalf("follower fire: %s/%s", r.Outcome, r.Reason)
		}
	}
}

// A job owned by another replica in spread mode: its fires and triggers
// are skipped as not_owner, and the jobs owned here run.
func TestOwnedElsewhere(t *testing.T) {
	h := leaderjobtest.New(t, leaderjobtest.OwnedElsewhere("report"))
	ran := map[string]int{}
	for _, name := range []string{"report", "cleanup"} {
		if err := h.App.Schedule(name, leaderjob.FixedRate(time.Minute), func(context.Context) error { ran[name]++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	h.Start()
	h.Advance(2 * time.Minute)
	if r := h.Trigger("report"); r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonNotOwner {
		t.Errorf("Trigger of a job owned elsewhere: %s/%s, want skipped/not_owner", r.Outcome, r.Reason)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	if ran["report"] != 0 || ran["cleanup"] != 3 {
		t.Errorf("runs %v, want report 0 (owned elsewhere) and cleanup 3 (at start, +1m, +2m)", ran)
	}
	for _, r := range h.Results() {
		if r.Job == "report" && r.Reason != leaderjob.ReasonNotOwner {
			t.Errorf("report at +%v: %s/%s, want skipped/not_owner", r.ScheduledAt.Sub(h.Clock.Now().Add(-2*time.Minute)), r.Outcome, r.Reason)
		}
	}
}
