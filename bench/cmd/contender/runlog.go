package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/go-co-op/gocron/v2"
)

// runLog writes the record leaderjob writes for each run (docs/logs.md),
// for the contenders that do not write one themselves.
type runLog struct {
	log  *slog.Logger
	self string
}

func newRunLog(self string) *runLog {
	return &runLog{log: slog.New(slog.NewJSONHandler(os.Stdout, nil)), self: self}
}

// ran logs a run of the fire slot that started at start and has just
// ended.
func (l *runLog) ran(ctx context.Context, slot, start time.Time, err error) {
	outcome := "ran"
	if err != nil {
		outcome = "canceled" // the job only ends early when its context does
	}
	l.log.LogAttrs(ctx, slog.LevelInfo, "job run",
		slog.String("job", Job),
		slog.String("outcome", outcome),
		slog.Duration("duration", time.Since(start)),
		slog.String("holder", l.self),
		slog.Time("scheduled_at", slot),
	)
}

// slotOf is the cron slot a run of the every-second schedule belongs to:
// the second it started in. gocron hands a task no fire time; a run starts
// a few milliseconds after its slot, so this is exact unless the run
// started a second or more late (after a pause), when it names the second
// the run started in.
func slotOf(start time.Time) time.Time { return start.Truncate(time.Second) }

// tickScheduler is a gocron scheduler with the one option that makes a
// contender (an Elector or a Locker), in UTC, and the workload's job: the
// cron Spec with seconds, each run working d and logging its record as
// replica id.
func tickScheduler(opt gocron.SchedulerOption, id string, d time.Duration) (gocron.Scheduler, error) {
	log := newRunLog(id)
	s, err := gocron.NewScheduler(opt, gocron.WithLocation(time.UTC))
	if err != nil {
		return nil, err
	}
	_, err = s.NewJob(gocron.CronJob(Spec, true), gocron.NewTask(func(ctx context.Context) {
		start := time.Now()
		log.ran(ctx, slotOf(start), start, work(ctx, d, slotOf(start)))
	}), gocron.WithName(Job))
	if err != nil {
		return nil, err
	}
	return s, nil
}
