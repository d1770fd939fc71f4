package leaderjob_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/leaderjob"
)

func TestScheduleString(t *testing.T) {
	for _, tc := range []struct {
		s    leaderjob.Schedule
		want string
	}{
		{leaderjob.Cron("0 0 2 * * MON-FRI"), `cron="0 0 2 * * MON-FRI"`},
		{leaderjob.Cron(" 0 0 2 * * * ").InZone("Europe/Berlin"), `cron="0 0 2 * * *" zone=Europe/Berlin`},
		{leaderjob.Cron("@daily").InZone("UTC"), `cron="@daily" zone=UTC`},
		{leaderjob.FixedRate(time.Minute), "fixedRate=1m0s"},
		{leaderjob.FixedDelay(30 * time.Second), "fixedDelay=30s"},
		{leaderjob.FixedRateString("PT1M"), `fixedRate="PT1M"`},
		{leaderjob.FixedDelayString("PT30S").WithInitialDelayString("PT10S"), `fixedDelay="PT30S" initialDelay="PT10S"`},
		{leaderjob.FixedRate(5 * time.Second).WithInitialDelay(time.Second), "fixedRate=5s initialDelay=1s"},
		{leaderjob.Once(), "once"},
		{leaderjob.Once().WithInitialDelay(time.Minute), "once initialDelay=1m0s"},
		{leaderjob.Cron(leaderjob.Disabled), `cron="-"`},
		{leaderjob.Schedule{}, "invalid"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}

func TestScheduleIsDisabled(t *testing.T) {
	for _, tc := range []struct {
		s    leaderjob.Schedule
		want bool
	}{
		{leaderjob.Cron("-"), true},
		{leaderjob.Cron(" - "), true},
		{leaderjob.FixedRateString("-"), true},
		{leaderjob.FixedDelayString(" -"), true},
		{leaderjob.FixedDelayString("-").WithInitialDelay(time.Second), true},
		{leaderjob.Cron("0 * * * * *"), false},
		{leaderjob.FixedRate(time.Second), false},
		{leaderjob.FixedRateString("1s"), false},
		{leaderjob.FixedRateString("-1s"), false},
		{leaderjob.Once(), false},
		{leaderjob.Schedule{}, false},
	} {
		if got := tc.s.IsDisabled(); got != tc.want {
			t.Errorf("%s: IsDisabled() = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestScheduleRejectsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    leaderjob.Schedule
		want []string // in the message, besides the job's name
	}{
		{"bad-duration", leaderjob.FixedRateString("banana"), []string{"fixedRate", `"banana"`}},
		{"bad-delay-duration", leaderjob.FixedDelayString("PT1.5M"), []string{"fixedDelay", `"PT1.5M"`}},
		{"bad-initial-delay", leaderjob.FixedDelay(time.Second).WithInitialDelayString("soon"), []string{"initialDelay", `"soon"`}},
		{"zero-rate", leaderjob.FixedRate(0), []string{"fixedRate", "0s", "positive"}},
		{"zero-rate-text", leaderjob.FixedRateString("0"), []string{"fixedRate", `"0"`, "positive"}},
		{"negative-rate", leaderjob.FixedRateString("-PT10S"), []string{"fixedRate", `"-PT10S"`, "positive"}},
		{"negative-delay", leaderjob.FixedDelay(-time.Second), []string{"fixedDelay", "-1s", "positive"}},
		{"negative-initial-delay", leaderjob.FixedRate(time.Second).WithInitialDelay(-time.Second), []string{"initialDelay", "-1s"}},
		{"unknown-zone", leaderjob.Cron("0 0 2 * * *").InZone("Mars/Olympus_Mons"), []string{`"Mars/Olympus_Mons"`, "zone"}},
		{"zone-on-fixed-rate", leaderjob.FixedRate(time.Minute).InZone("UTC"), []string{"zone", "fixedRate"}},
		{"zone-on-once", leaderjob.Once().InZone("UTC"), []string{"zone", "once"}},
		{"cron-initial-delay", leaderjob.Cron("0 0 2 * * *").WithInitialDelay(time.Second), []string{"initialDelay", "cron"}},
		{"cron-five-fields", leaderjob.Cron("0 2 * * *"), []string{`"0 2 * * *"`}},
		{"cron-garbage", leaderjob.Cron("banana"), []string{`"banana"`}},
		{"cron-bad-hour", leaderjob.Cron("0 0 25 * * *"), []string{`"0 0 25 * * *"`}},
		{"cron-empty", leaderjob.Cron(""), nil},
		{"cron-never", leaderjob.Cron("0 0 0 31 2 *").InZone("UTC"), []string{`"0 0 0 31 2 *"`, "never"}},
		{"zero-schedule", leaderjob.Schedule{}, []string{"no schedule"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, _ := newApp(t)
			err := app.Schedule(tc.name, tc.s, nop)
			if !errors.Is(err, leaderjob.ErrInvalidSchedule) {
				t.Fatalf("Schedule(%s) = %v, want ErrInvalidSchedule", tc.s, err)
			}
			for _, w := range append([]string{`"` + tc.name + `"`}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
			if len(app.Jobs()) != 0 {
				t.Errorf("a rejected job was registered: %v", app.Jobs())
			}
		})
	}
}

func TestScheduleRejectsBadDurationWithCause(t *testing.T) {
	app, _ := newApp(t)
	err := app.Schedule("rates", leaderjob.FixedRateString("P1Y"), nop)
	if !errors.Is(err, leaderjob.ErrInvalidSchedule) || !errors.Is(err, leaderjob.ErrInvalidDuration) {
		t.Fatalf("error %v, want ErrInvalidSchedule and ErrInvalidDuration", err)
	}
}

func TestScheduleRejectsBadJobs(t *testing.T) {
	app, _ := newApp(t)
	every := leaderjob.FixedRate(time.Minute)

	err := app.Schedule("nil-func", every, nil)
	if !errors.Is(err, leaderjob.ErrNilFunc) || !strings.Contains(err.Error(), `"nil-func"`) {
		t.Errorf("nil Func: %v, want ErrNilFunc naming the job", err)
	}
	var nilPlain func()
	err = app.Schedule("nil-adapted", every, leaderjob.Adapt(nilPlain))
	if !errors.Is(err, leaderjob.ErrNilFunc) || !strings.Contains(err.Error(), `"nil-adapted"`) {
		t.Errorf("Adapt of a nil func: %v, want ErrNilFunc naming the job", err)
	}
	var nilCtx func(context.Context) error
	if err := app.Schedule("nil-adapted-ctx", every, leaderjob.Adapt(nilCtx)); !errors.Is(err, leaderjob.ErrNilFunc) {
		t.Errorf("Adapt of a nil func(ctx) error: %v, want ErrNilFunc", err)
	}
	var nilNamed namedTask
	if err := app.Schedule("nil-named", every, leaderjob.Adapt(nilNamed)); !errors.Is(err, leaderjob.ErrNilFunc) {
		t.Errorf("Adapt of a nil named func: %v, want ErrNilFunc", err)
	}

	if err := app.Schedule("", every, nop); !errors.Is(err, leaderjob.ErrConfig) {
		t.Errorf("empty name: %v, want ErrConfig", err)
	}
	err = app.Schedule("negative-timeout", every, nop, leaderjob.WithTimeout(-time.Second))
	if !errors.Is(err, leaderjob.ErrConfig) || !strings.Contains(err.Error(), `"negative-timeout"`) {
		t.Errorf("negative timeout: %v, want ErrConfig naming the job", err)
	}

	noErr(t, app.Schedule("report", every, nop))
	err = app.Schedule("report", leaderjob.Cron("0 0 2 * * *"), nop)
	if !errors.Is(err, leaderjob.ErrDuplicateJob) || !strings.Contains(err.Error(), `"report"`) {
		t.Errorf("duplicate: %v, want ErrDuplicateJob naming the job", err)
	}
	noErr(t, app.Schedule("off", leaderjob.Cron(leaderjob.Disabled), nop))
	noErr(t, app.Schedule("off-too", leaderjob.FixedRateString(leaderjob.Disabled), nop))
	if got := strings.Join(app.Jobs(), ","); got != "report,off,off-too" {
		t.Errorf("Jobs() = %s, want the accepted jobs in registration order", got)
	}
}

func TestScheduleAfterRun(t *testing.T) {
	app, _ := newApp(t)
	startApp(t, app)
	err := app.Schedule("late", leaderjob.FixedRate(time.Minute), nop)
	if !errors.Is(err, leaderjob.ErrAlreadyRun) || !strings.Contains(err.Error(), `"late"`) {
		t.Fatalf("Schedule after Run = %v, want ErrAlreadyRun naming the job", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := leaderjob.New("", leaderjob.WithEnv(noEnv), leaderjob.WithGuard(guard.Always)); !errors.Is(err, leaderjob.ErrConfig) {
		t.Errorf("empty app name: %v, want ErrConfig", err)
	}
	_, err := leaderjob.New("x", leaderjob.WithEnv(noEnv), leaderjob.WithGuard(guard.Always), leaderjob.WithDrainTimeout(-time.Second))
	if !errors.Is(err, leaderjob.ErrConfig) {
		t.Errorf("negative drain timeout: %v, want ErrConfig", err)
	}
}

type (
	namedTask   func() error
	namedPlain  func()
	namedCtx    func(context.Context)
	namedCtxErr func(context.Context) error
	ctxKey      struct{}
)

func TestAdapt(t *testing.T) {
	boom := errors.New("boom")
	ctx := context.WithValue(context.Background(), ctxKey{}, "marker")
	sawCtx := func(c context.Context) bool { return c.Value(ctxKey{}) == "marker" }

	var calls []string
	for _, tc := range []struct {
		name string
		fn   leaderjob.Func
		err  error
	}{
		{"func()", leaderjob.Adapt(func() { calls = append(calls, "func()") }), nil},
		{"func() error", leaderjob.Adapt(func() error { calls = append(calls, "func() error"); return boom }), boom},
		{"func(ctx)", leaderjob.Adapt(func(c context.Context) {
			if sawCtx(c) {
				calls = append(calls, "func(ctx)")
			}
		}), nil},
		{"func(ctx) error", leaderjob.Adapt(func(c context.Context) error {
			if sawCtx(c) {
				calls = append(calls, "func(ctx) error")
			}
			return boom
		}), boom},
		{"named func()", leaderjob.Adapt(namedPlain(func() { calls = append(calls, "named func()") })), nil},
		{"named func() error", leaderjob.Adapt(namedTask(func() error { calls = append(calls, "named func() error"); return boom })), boom},
		{"named func(ctx)", leaderjob.Adapt(namedCtx(func(c context.Context) {
			if sawCtx(c) {
				calls = append(calls, "named func(ctx)")
			}
		})), nil},
		{"named func(ctx) error", leaderjob.Adapt(namedCtxErr(func(c context.Context) error {
			if sawCtx(c) {
				calls = append(calls, "named func(ctx) error")
			}
			return nil
		})), nil},
	} {
		calls = nil
		if tc.fn == nil {
			t.Errorf("Adapt(%s) = nil", tc.name)
			continue
		}
		if err := tc.fn(ctx); err != tc.err {
			t.Errorf("Adapt(%s)() = %v, want %v", tc.name, err, tc.err)
		}
		if len(calls) != 1 || calls[0] != tc.name {
			t.Errorf("Adapt(%s) called %v, want the function once with the context", tc.name, calls)
		}
	}
}

func TestAdaptedJobsRun(t *testing.T) {
	app, _ := newApp(t)
	ran := 0
	noErr(t, app.Schedule("plain", leaderjob.FixedRate(time.Minute), leaderjob.Adapt(func() { ran++ })))
	noErr(t, app.Schedule("named", leaderjob.FixedRate(time.Minute), leaderjob.Adapt(namedTask(func() error { return errors.New("named failed") }))))
	if r, _ := app.Trigger(context.Background(), "plain"); r.Outcome != guard.Ran || ran != 1 {
		t.Fatalf("plain: %s, ran %d", r.Outcome, ran)
	}
	if r, _ := app.Trigger(context.Background(), "named"); r.Outcome != guard.Failed || r.Err == nil || r.Err.Error() != "named failed" {
		t.Fatalf("named: %s %v", r.Outcome, r.Err)
	}
}
