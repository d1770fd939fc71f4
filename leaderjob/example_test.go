package leaderjob_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/leaderjob/leaderjob/guard"
	"github.com/leaderjob/leaderjob/guard/guardtest"
	"github.com/leaderjob/leaderjob/leaderjob"
)

// quiet keeps the examples' App from reading the environment or logging.
var quiet = []leaderjob.Option{
	leaderjob.WithEnv(func(string) (string, bool) { return "", false }),
	leaderjob.WithLogger(slog.New(slog.DiscardHandler)),
	leaderjob.WithHTTPAddr(""),
}

func ExampleNew() {
	// In a Pod, New reads LEADERJOB_GUARD, POD_NAME and the rest from the
	// environment; here a map stands in for it.
	env := map[string]string{"LEADERJOB_GUARD": "never", "POD_NAME": "billing-7d9f-x2"}
	app, err := leaderjob.New("billing",
		leaderjob.WithEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }),
		leaderjob.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(app.Name(), app.Identity())

	env["LEADERJOB_GUARD"] = "bogus"
	_, err = leaderjob.New("billing", leaderjob.WithEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	fmt.Println(errors.Is(err, leaderjob.ErrConfig))
	// Output:
	// billing billing-7d9f-x2
	// true
}

func ExampleApp_Schedule() {
	app, err := leaderjob.New("billing", append(quiet, leaderjob.WithGuard(guard.Always), leaderjob.WithIdentity("pod-a"))...)
	if err != nil {
		panic(err)
	}
	// @Scheduled(cron = "0 0 2 * * MON-FRI", zone = "Europe/Berlin")
	err = app.Schedule("invoices", leaderjob.Cron("0 0 2 * * MON-FRI").InZone("Europe/Berlin"),
		func(ctx context.Context) error {
			fmt.Println("sending invoices")
			return nil
		})
	if err != nil {
		panic(err)
	}
	// @Scheduled(fixedDelayString = "PT30S", initialDelayString = "PT10S")
	err = app.Schedule("sessions", leaderjob.FixedDelayString("PT30S").WithInitialDelayString("PT10S"),
		leaderjob.Adapt(func() { fmt.Println("purging sessions") }))
	if err != nil {
		panic(err)
	}
	// A bad value names the job and the value.
	fmt.Println(app.Schedule("rates", leaderjob.FixedRateString("1 minute"), leaderjob.Adapt(func() {})))
	fmt.Println(app.Jobs())

	// Trigger runs a job now through its guard, as a fire would.
	r, err := app.Trigger(context.Background(), "invoices")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Outcome, r.Decision.Holder)
	// Output:
	// leaderjob: job "rates": invalid schedule: fixedRate: invalid duration: "1 minute": use an ISO-8601 duration (PT15M), a Go duration (10s, 250ms, 1h30m) or a whole number of milliseconds (5000)
	// [invoices sessions]
	// sending invoices
	// ran pod-a
}

func ExampleParseDuration() {
	for _, s := range []string{"PT15M", "PT1H30M", "P2D", "PT0.5S", "-PT10S", "10s", "2d", "5000"} {
		d, err := leaderjob.ParseDuration(s)
		fmt.Println(s, d, err)
	}
	_, err := leaderjob.ParseDuration("P1Y")
	fmt.Println(errors.Is(err, leaderjob.ErrInvalidDuration))
	// Output:
	// PT15M 15m0s <nil>
	// PT1H30M 1h30m0s <nil>
	// P2D 48h0m0s <nil>
	// PT0.5S 500ms <nil>
	// -PT10S -10s <nil>
	// 10s 10s <nil>
	// 2d 48h0m0s <nil>
	// 5000 5s <nil>
	// true
}

func ExampleRunInfoFrom() {
	// A guard with leadership terms gives each run an epoch to fence writes.
	app, err := leaderjob.New("reports", append(quiet, leaderjob.WithGuard(guardtest.Leader(guardtest.WithSelf("pod-a"))))...)
	if err != nil {
		panic(err)
	}
	err = app.Schedule("daily-report", leaderjob.FixedRate(24*time.Hour), func(ctx context.Context) error {
		info, _ := leaderjob.RunInfoFrom(ctx)
		epoch, _ := leaderjob.Epoch(ctx)
		fmt.Printf("%s run by %s, epoch %d\n", info.Job, info.Decision.Holder, epoch)
		return nil
	})
	if err != nil {
		panic(err)
	}
	if _, err := app.Trigger(context.Background(), "daily-report"); err != nil {
		panic(err)
	}
	// Output:
	// daily-report run by pod-a, epoch 1
}

// guardElector adapts a guard to gocron's scheduler-wide Elector, for a
// program that keeps its own gocron scheduler.
type guardElector struct{ g guard.Guard }

var _ gocron.Elector = guardElector{}

func (e guardElector) IsLeader(ctx context.Context) error {
	d, err := e.g.Check(ctx)
	switch {
	case err != nil:
		return err
	case !d.Leader:
		return fmt.Errorf("%w: leader is %q", guard.ErrNotLeader, d.Holder)
	}
	return nil
}

// Programs that keep their own gocron scheduler can still ask a guard
// through gocron's Elector with a small adapter (guardElector above) and
// gocron.WithDistributedElector. An App is the better home for scheduled
// jobs: with an Elector gocron discards the reason of every skip, loses
// start-immediately and one-time runs on followers, and does not cancel a
// run when leadership is lost.
func Example_gocronElector() {
	fmt.Println(guardElector{guard.Always}.IsLeader(context.Background()))
	fmt.Println(guardElector{guard.Never}.IsLeader(context.Background()))
	// Output:
	// <nil>
	// not the leader: leader is ""
}

// Adapt schedules methods with the shapes Spring code has, such as a
// method with no arguments and no result.
func ExampleAdapt() {
	app, err := leaderjob.New("cache", append(quiet, leaderjob.WithGuard(guard.Always))...)
	if err != nil {
		panic(err)
	}
	refresh := func() { fmt.Println("refreshing") } // void refresh()
	if err := app.Schedule("refresh", leaderjob.FixedRate(time.Minute), leaderjob.Adapt(refresh)); err != nil {
		panic(err)
	}
	if _, err := app.Trigger(context.Background(), "refresh"); err != nil {
		panic(err)
	}
	// Output:
	// refreshing
}

// Trigger runs a job at once through the same path as a fire: on a
// replica that does not lead it is skipped, with the reason.
func ExampleApp_Trigger() {
	g := guardtest.Follower("pod-b")
	app, err := leaderjob.New("billing", append(quiet, leaderjob.WithGuard(g), leaderjob.WithIdentity("pod-a"))...)
	if err != nil {
		panic(err)
	}
	if err := app.Schedule("invoices", leaderjob.Cron("0 0 2 * * *"), func(context.Context) error { return nil }); err != nil {
		panic(err)
	}
	r, _ := app.Trigger(context.Background(), "invoices")
	fmt.Println(r.Outcome, r.Reason, r.Decision.Holder)
	g.SetLeader()
	r, _ = app.Trigger(context.Background(), "invoices")
	fmt.Println(r.Outcome)
	// Output:
	// skipped not_leader pod-b
	// ran
}

// EveryReplica runs a job on every replica, leader or not, such as the
// refresh of a cache each replica keeps; WithTimeout bounds each run.
func ExampleEveryReplica() {
	app, err := leaderjob.New("web", append(quiet, leaderjob.WithGuard(guard.Never), leaderjob.WithIdentity("pod-a"))...)
	if err != nil {
		panic(err)
	}
	err = app.Schedule("local-cache", leaderjob.FixedRate(time.Minute), func(ctx context.Context) error {
		_, bounded := ctx.Deadline()
		fmt.Println("refreshed, bounded:", bounded)
		return nil
	}, leaderjob.EveryReplica(), leaderjob.WithTimeout(10*time.Second))
	if err != nil {
		panic(err)
	}
	r, _ := app.Trigger(context.Background(), "local-cache")
	fmt.Println(r.Outcome, r.Decision.Holder)
	// Output:
	// refreshed, bounded: true
	// ran pod-a
}
