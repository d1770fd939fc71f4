package leaderjob

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/leaderjob/leaderjob/leaderjob/cron"
)

// gocronJob translates a resolved schedule into gocron's definition and
// options. start is the App's start time, from which initial delays count.
// cronImpl must be the job's own springCron (nil for other kinds).
func (s Schedule) gocronJob(start time.Time, cronImpl *springCron) (gocron.JobDefinition, []gocron.JobOption) {
	// A job never overlaps itself (Spring's rule). The App enforces it, not
	// gocron's singleton mode: a fire that comes while the previous run is
	// still going is skipped with a record (already_running). gocron's mode
	// would drop it without one, and would also drop a fire that comes just
	// after a run returned, before gocron's own bookkeeping for it ended.
	var opts []gocron.JobOption
	startAt := gocron.WithStartImmediately()
	if s.delay > 0 {
		startAt = gocron.WithStartDateTime(start.Add(s.delay))
	}
	switch s.kind {
	case kindCron:
		return gocron.CronJob(s.cronExpr, true), append(opts, gocron.WithCronImplementation(cronImpl))
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
	expr *cron.Expression

	mu     sync.Mutex
	recent [4]time.Time // the last instants Next returned, newest first
}

func newSpringCron(zone *time.Location) *springCron { return &springCron{zone: zone} }

func (c *springCron) IsValid(crontab string, _ *time.Location, now time.Time) error {
	expr, err := cron.Parse(crontab)
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
	next := nextAfter(c.expr, lastRun.In(c.zone))
	c.mu.Lock()
	copy(c.recent[1:], c.recent[:])
	c.recent[0] = next
	c.mu.Unlock()
	return next
}

// overlapSteps are how far past a fire nextAfter looks again when Spring's
// search finds nothing after it: enough to leave any fall-back overlap
// (30 minutes on Lord Howe, an hour in most zones, two for historical
// double summer time).
var overlapSteps = []time.Duration{time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour}

// nextAfter is expr.Next, except that a fire inside a fall-back overlap that
// is not a whole hour (Lord Howe) or not on the hour, where Spring's search
// settles on a time that is not after from and Next reports none, does not
// end the schedule: the search is repeated from a little later.
func nextAfter(expr *cron.Expression, from time.Time) time.Time {
	next := expr.Next(from)
	for _, step := range overlapSteps {
		if !next.IsZero() {
			break
		}
		if t := expr.Next(from.Add(step)); t.After(from) {
			next = t
		}
	}
	return next
}

// firedAt returns the cron instant of the fire now belongs to: the latest
// instant handed to gocron that is not after now. gocron computes the next
// instant before the task runs, so that one is still in the future.
func (c *springCron) firedAt(now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Time
	for _, t := range c.recent {
		if !t.IsZero() && !t.After(now) && t.After(best) {
			best = t
		}
	}
	return best, !best.IsZero()
}

// validateCron checks a cron schedule at registration.
func validateCron(s Schedule, now time.Time) error {
	return newSpringCron(s.zone).IsValid(s.cronExpr, s.zone, now)
}

// scheduledAt is the instant the fire that gocron makes at now belongs to:
// for cron, the cron instant (gocron hands the task no time, and with a
// real clock it runs a little after the instant); for the other kinds, the
// moment of the fire.
func (j *job) scheduledAt(now time.Time) time.Time {
	if j.cron != nil {
		if instant, ok := j.cron.firedAt(now); ok {
			return instant
		}
	}
	return now
}
