// Command spreadload is the load of the spread-mode tests and measurement
// (internal/rig/e2e, spread_test.go): a leaderjob App named spreadload with
// SPREADLOAD_JOBS jobs (default 300), j000, j001, ..., each a per-second
// cron (* * * * * *) whose run sleeps SPREADLOAD_WORK (default 20ms, a
// duration as leaderjob.ParseDuration reads it) or until its context ends.
//
// Each run that called the job writes one record of its own, after the
// work, beside leaderjob's "job run" record:
//
//	{"msg":"work","job":"j042","scheduled_at":...,"start":...,"end":...,"catch_up":true,"cut_short":false,"key":...}
//
// start and end are when the job's function was entered and left, so that
// a test can check that the runs of one job never overlap, across processes
// too; cut_short says the run's context ended before the work did. leaderjob's own variables (LEADERJOB_GUARD, POD_NAME,
// LEADERJOB_SPREAD, LEADERJOB_CATCH_UP, ...) configure the rest; the log
// format defaults to json and the level to info here (at debug every
// replica would log a not_owner record per job it does not own, each
// second).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/leaderjob/leaderjob/kube"
	"github.com/leaderjob/leaderjob/leaderjob"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func run() error {
	jobs := 300
	if v := os.Getenv("SPREADLOAD_JOBS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return fmt.Errorf("SPREADLOAD_JOBS=%q: want a count from 1 to 1000", v)
		}
		jobs = n
	}
	work := 20 * time.Millisecond
	if v := os.Getenv("SPREADLOAD_WORK"); v != "" {
		d, err := leaderjob.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("SPREADLOAD_WORK: %w", err)
		}
		work = d
	}
	app, err := leaderjob.New("spreadload", kube.Guards(), leaderjob.WithEnv(withDefaults(map[string]string{
		"LEADERJOB_LOG_FORMAT": "json",
		"LEADERJOB_LOG_LEVEL":  "info",
	})))
	if err != nil {
		return err
	}
	log := app.Logger()
	for i := range jobs {
		name := fmt.Sprintf("j%03d", i)
		if err := app.Schedule(name, leaderjob.Cron("* * * * * *").InZone("UTC"), worker(log, work)); err != nil {
			return err
		}
	}
	return app.Run(context.Background())
}

// worker returns a job that sleeps for work, or until its context ends,
// and then logs when it ran.
func worker(log *slog.Logger, work time.Duration) leaderjob.Func {
	return func(ctx context.Context) error {
		start := time.Now()
		timer := time.NewTimer(work)
		defer timer.Stop()
		cut := false
		select {
		case <-timer.C:
		case <-ctx.Done():
			cut = true
		}
		end := time.Now()
		info, _ := leaderjob.RunInfoFrom(ctx)
		log.LogAttrs(ctx, slog.LevelInfo, "work",
			slog.String("job", info.Job),
			slog.Time("scheduled_at", info.ScheduledAt),
			slog.Time("start", start),
			slog.Time("end", end),
			slog.Bool("catch_up", info.CatchUp),
			slog.Bool("cut_short", cut),
			slog.String("key", info.Key))
		if cut {
			return context.Cause(ctx)
		}
		return nil
	}
}

// withDefaults looks a variable up in the environment, and else in
// defaults.
func withDefaults(defaults map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		v, ok := defaults[name]
		return v, ok
	}
}
