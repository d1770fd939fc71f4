package leaderjob

import (
	"context"
	"fmt"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/leaderjob/leaderjob/guard"
)

// gocronJob translates a resolved schedule into gocron's definition and
// options. start is the App's start time, from which initial delays count.
func (s Schedule) gocronJob(start time.Time) (gocron.JobDefinition, []gocron.JobOption) {
	// A job never overlaps itself (Spring's rule): a fire that comes while the
	// previous run is still going is dropped and the job is rescheduled.
	opts := []gocron.JobOption{gocron.WithSingletonMode(gocron.LimitModeReschedule)}
	startAt := gocron.WithStartImmediately()
	if s.delay > 0 {
		startAt = gocron.WithStartDateTime(start.Add(s.delay))
	}
	switch s.kind {
	case kindCron:
		return gocron.CronJob(s.cronExpr, true), append(opts, gocron.WithCronImplementation(newSpringCron(s.zone)))
	case kindFixedRate:
		return gocron.DurationJob(s.every), append(opts, gocron.WithStartAt(startAt))
	case kindFixedDelay:
		return gocron.DurationJob(s.every), append(opts, gocron.WithStartAt(startAt), gocron.WithIntervalFromCompletion())
	default: // kindOnce
		at := gocron.OneTimeJobStartImmediately()
		if s.delay > 0 {
			at = gocron.OneTimeJobStartDateTime(start.Add(s.delay))
		}
		return gocron.OneTimeJob(at), opts
	}
}

// springCron plugs Spring's cron dialect into gocron. gocron calls IsValid
// once when the job is added, then Next after every fire.
type springCron struct {
	zone *time.Location
	expr cronExpression
}

// cronExpression is what a parsed Spring cron expression offers.
type cronExpression interface {
	Next(from time.Time) time.Time
}

func newSpringCron(zone *time.Location) *springCron { return &springCron{zone: zone} }

func (c *springCron) IsValid(crontab string, _ *time.Location, now time.Time) error {
	expr, err := parseCron(crontab)
	if err != nil {
		return err
	}
	if expr.Next(now.In(c.zone)).IsZero() {
		return fmt.Errorf("cron %q never fires after %s", crontab, now.In(c.zone).Format(time.RFC3339))
	}
	c.expr = expr
	return nil
}

func (c *springCron) Next(lastRun time.Time) time.Time {
	return c.expr.Next(lastRun.In(c.zone))
}

// validateCron checks a cron schedule at registration.
func validateCron(s Schedule, now time.Time) error {
	return newSpringCron(s.zone).IsValid(s.cronExpr, s.zone, now)
}

// GocronElector adapts a guard to gocron's scheduler-wide Elector, for
// programs that keep their own gocron scheduler. Prefer an App: with an
// Elector, gocron discards the reason of every skip, runs scheduled to start
// immediately and one-time jobs are lost on followers, and a running job is
// not cancelled when leadership is lost. IsLeader returns nil only when g
// answers that this replica leads; otherwise an error wrapping
// guard.ErrNotLeader or the guard's error.
func GocronElector(g guard.Guard) gocron.Elector { return elector{g} }

type elector struct{ g guard.Guard }

func (e elector) IsLeader(ctx context.Context) error {
	d, err := e.g.Check(ctx)
	switch {
	case err != nil:
		return err
	case !d.Leader:
		return fmt.Errorf("%w: leader is %q", guard.ErrNotLeader, d.Holder)
	}
	return nil
}
