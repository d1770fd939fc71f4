package leaderjob_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
	"github.com/leaderjob/leaderjob/leaderjob/leaderjobtest"
)

// Every attempt, whatever its outcome, is exactly one "job run" record
// carrying the fields operators filter on.
func TestOneRecordPerAttempt(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	app, sink := newApp(t, leaderjob.WithGuard(g))
	var fail, explode atomic.Bool
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Hour), func(context.Context) error {
		switch {
		case explode.Load():
			panic("kaboom")
		case fail.Load():
			return errors.New("disk full")
		}
		return nil
	}))
	trigger := func() leaderjob.Result {
		t.Helper()
		r, err := app.Trigger(context.Background(), "job")
		noErr(t, err)
		return r
	}

	var results []leaderjob.Result
	results = append(results, trigger()) // ran
	fail.Store(true)
	results = append(results, trigger()) // failed
	fail.Store(false)
	explode.Store(true)
	results = append(results, trigger()) // panicked
	explode.Store(false)
	g.SetFollower("pod-b")
	results = append(results, trigger()) // skipped: not_leader
	g.SetError(guard.ErrUnavailable)
	results = append(results, trigger()) // skipped: unavailable

	recs := sink.runs(t, "job")
	if len(recs) != len(results) {
		t.Fatalf("%d records for %d attempts", len(recs), len(results))
	}
	type want struct{ level, outcome, reason, holder, errPart string }
	wants := []want{
		{"INFO", "ran", "", "pod-a", ""},
		{"ERROR", "failed", "", "pod-a", "disk full"},
		{"ERROR", "panicked", "", "pod-a", "kaboom"},
		{"DEBUG", "skipped", "not_leader", "pod-b", "pod-b"},   // a standby's routine skip
		{"DEBUG", "skipped", "unavailable", "", "unavailable"}, // plus a rate-limited WARN below
	}
	ids := map[string]bool{}
	for i, rec := range recs {
		w, r := wants[i], results[i]
		if rec.str("level") != w.level || rec.str("outcome") != w.outcome || rec.str("holder") != w.holder {
			t.Errorf("record %d: level %s outcome %s holder %q; want %s %s %q", i, rec.str("level"), rec.str("outcome"), rec.str("holder"), w.level, w.outcome, w.holder)
		}
		if rec.str("outcome") != string(r.Outcome) || rec.str("run_id") != r.RunID || rec.str("job") != "job" {
			t.Errorf("record %d %v does not match the Result %+v", i, rec, r)
		}
		if reason, ok := rec["reason"]; (w.reason == "") == ok || (ok && reason != w.reason) {
			t.Errorf("record %d: reason %v, want %q (present only for skips)", i, reason, w.reason)
		}
		if errText, ok := rec["error"]; (w.errPart == "") == ok || (ok && !strings.Contains(errText.(string), w.errPart)) {
			t.Errorf("record %d: error %v, want it to mention %q (absent when ran)", i, errText, w.errPart)
		}
		if _, ok := rec["duration"].(float64); !ok {
			t.Errorf("record %d has no duration: %v", i, rec)
		}
		if _, ok := rec["stack"]; ok != (w.outcome == "panicked") {
			t.Errorf("record %d: stack present %v, want it only for panics", i, ok)
		}
		if ids[r.RunID] || r.RunID == "" {
			t.Errorf("run id %q is empty or repeated", r.RunID)
		}
		ids[r.RunID] = true
	}
	if e, ok := recs[0]["epoch"].(float64); !ok || e != 1 {
		t.Errorf("the ran record's epoch = %v, want 1", recs[0]["epoch"])
	}
}

func TestSkipRecordsForShutdownAndOverlap(t *testing.T) {
	app, sink := newApp(t)
	started, release := make(chan struct{}), make(chan struct{})
	noErr(t, app.Schedule("slow", leaderjob.FixedRate(time.Hour), func(context.Context) error {
		close(started)
		<-release
		return nil
	}))
	first := make(chan leaderjob.Result, 1)
	go func() { r, _ := app.Trigger(context.Background(), "slow"); first <- r }()
	<-started
	r, err := app.Trigger(context.Background(), "slow")
	noErr(t, err)
	if r.Outcome != guard.Skipped || r.Reason != leaderjob.ReasonAlreadyRunning || !errors.Is(r.Err, guard.ErrSkipped) {
		t.Fatalf("trigger while running: %s/%s (%v), want skipped/already_running", r.Outcome, r.Reason, r.Err)
	}
	close(release)
	if r := recv(t, first, "the first run"); r.Outcome != guard.Ran {
		t.Fatalf("first run: %s", r.Outcome)
	}
	recs := sink.runs(t, "slow")
	if len(recs) != 2 || recs[0].str("reason") != "already_running" || recs[1].str("outcome") != "ran" {
		t.Fatalf("records %v, want the skip then the run", recs)
	}
}

// Scheduled fires are recorded the same way as triggered ones.
func TestScheduledRunsAreRecorded(t *testing.T) {
	sink := &logSink{}
	h := leaderjobtest.New(t, leaderjobtest.WithAppOptions(leaderjob.WithLogger(sink.logger())))
	noErr(t, h.App.Schedule("tick", leaderjob.FixedRate(time.Minute), nop))
	h.Start()
	var results []leaderjob.Result
	for i := range 3 {
		if i > 0 {
			h.Advance(time.Minute)
		}
		results = append(results, h.Await("tick"))
	}
	h.Guard.SetFollower("pod-b")
	h.Advance(time.Minute)
	results = append(results, h.Await("tick"))
	noErr(t, h.Stop())

	recs := sink.runs(t, "tick")
	if len(recs) != 4 {
		t.Fatalf("%d records for 4 fires", len(recs))
	}
	for i, rec := range recs {
		if rec.str("run_id") != results[i].RunID || rec.str("outcome") != string(results[i].Outcome) {
			t.Errorf("record %d %v does not match %+v", i, rec, results[i])
		}
		at, err := time.Parse(time.RFC3339Nano, rec.str("scheduled_at"))
		if err != nil || !at.Equal(t0.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("record %d scheduled_at %q, want t0+%dm", i, rec.str("scheduled_at"), i)
		}
	}
	if recs[3].str("reason") != string(guard.ReasonNotLeader) || recs[3].str("holder") != "pod-b" {
		t.Errorf("follower record %v, want not_leader naming pod-b", recs[3])
	}
}

// A guard that cannot answer is reported at WARN at a bounded rate, not per
// fire; a standby's routine skips and the per-attempt records of guard
// problems are DEBUG, so a WARN-level logger prints only the summary.
func TestGuardProblemsWarnAtABoundedRate(t *testing.T) {
	g := guardtest.Leader(guardtest.WithSelf("pod-a"))
	g.SetError(fmt.Errorf("%w: apiserver unreachable", guard.ErrUnavailable))
	sink := &logSink{}
	logger := slog.New(slog.NewJSONHandler(sink, &slog.HandlerOptions{Level: slog.LevelWarn}))
	app, _ := newApp(t, leaderjob.WithGuard(g), leaderjob.WithLogger(logger))
	noErr(t, app.Schedule("job", leaderjob.FixedRate(time.Hour), nop))
	for range 50 {
		if _, err := app.Trigger(context.Background(), "job"); err != nil {
			t.Fatal(err)
		}
	}
	g.SetFollower("pod-b")
	for range 5 {
		if _, err := app.Trigger(context.Background(), "job"); err != nil {
			t.Fatal(err)
		}
	}
	recs := sink.records(t)
	if len(recs) != 1 || recs[0].str("level") != "WARN" || recs[0].str("msg") != "runs skipped: the guard cannot answer" ||
		recs[0].str("reason") != "unavailable" || !strings.Contains(recs[0].str("error"), "apiserver unreachable") {
		t.Fatalf("records at WARN: %v; want one WARN summary naming the reason and the error", recs)
	}
}
