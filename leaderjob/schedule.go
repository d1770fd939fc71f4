package leaderjob

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leaderjob/leaderjob/leaderjob/cron"
)

// ErrInvalidSchedule is wrapped by every error about a job's schedule.
var ErrInvalidSchedule = errors.New("invalid schedule")

// Disabled is the value that switches a schedule off, as Spring's
// CRON_DISABLED ("-") does. It is accepted by Cron and by the *String
// constructors, so a schedule read from the environment can disable a job.
const Disabled = "-"

type scheduleKind int

const (
	kindCron scheduleKind = iota + 1
	kindFixedRate
	kindFixedDelay
	kindOnce
)

// Schedule says when a job fires. It is a value built by one of Cron,
// FixedRate, FixedDelay, Once (and their *String forms) and refined with
// WithInitialDelay, InZone and WithTimeUnit; invalid values are reported by
// App.Schedule, naming the job.
//
// The zero Schedule is invalid.
type Schedule struct {
	kind     scheduleKind
	cronExpr string
	every    time.Duration
	everyStr string // unparsed *String value, parsed with unit at registration
	delay    time.Duration
	delayStr string
	hasDelay bool
	zone     *time.Location
	zoneName string
	unit     time.Duration
}

// Cron fires at the times matched by a Spring cron expression: six fields,
// seconds first ("0 */15 * * * *"), with Spring's full dialect (?, L, W, #,
// names, macros such as @daily). Cron(Disabled) disables the job. The
// expression is evaluated in the job's zone (InZone), time.Local by default.
// Spring does not allow an initial delay with cron, and neither does this.
func Cron(expr string) Schedule {
	return Schedule{kind: kindCron, cronExpr: strings.TrimSpace(expr)}
}

// FixedRate fires every d, measured between the starts of runs (Spring's
// fixedRate). The first run is at start-up, or after WithInitialDelay. A run
// never overlaps the previous one: a fire that comes while the job is still
// running is skipped, and the job fires again at the next multiple of d.
func FixedRate(d time.Duration) Schedule { return Schedule{kind: kindFixedRate, every: d} }

// FixedDelay fires d after the previous run completed (Spring's fixedDelay).
// The first run is at start-up, or after WithInitialDelay.
func FixedDelay(d time.Duration) Schedule { return Schedule{kind: kindFixedDelay, every: d} }

// FixedRateString is FixedRate with the period given as text, like Spring's
// fixedRateString: see ParseDuration for the accepted forms; Disabled ("-")
// disables the job.
func FixedRateString(s string) Schedule { return Schedule{kind: kindFixedRate, everyStr: s} }

// FixedDelayString is FixedDelay with the delay given as text, like Spring's
// fixedDelayString.
func FixedDelayString(s string) Schedule { return Schedule{kind: kindFixedDelay, everyStr: s} }

// Once fires a single time: at start-up, or after WithInitialDelay (Spring
// 6.1's one-time task, @Scheduled with only initialDelay).
func Once() Schedule { return Schedule{kind: kindOnce} }

// WithInitialDelay delays the first run by d after the App starts (Spring's
// initialDelay).
func (s Schedule) WithInitialDelay(d time.Duration) Schedule {
	s.delay, s.delayStr, s.hasDelay = d, "", true
	return s
}

// WithInitialDelayString is WithInitialDelay with text, like Spring's
// initialDelayString (see ParseDuration).
func (s Schedule) WithInitialDelayString(v string) Schedule {
	s.delay, s.delayStr, s.hasDelay = 0, v, true
	return s
}

// InZone sets the time zone of a cron schedule by IANA name, such as
// "Europe/Berlin" (Spring's zone attribute; a *time.Location's String()
// works too, "Local" included). An unknown name is reported at
// registration.
func (s Schedule) InZone(name string) Schedule {
	s.zone, s.zoneName = nil, name
	return s
}

// WithTimeUnit sets the unit of bare numbers in the *String values (Spring's
// timeUnit; default time.Millisecond).
func (s Schedule) WithTimeUnit(unit time.Duration) Schedule {
	s.unit = unit
	return s
}

// String describes the schedule in Spring's words, for logs.
func (s Schedule) String() string {
	var b strings.Builder
	switch s.kind {
	case kindCron:
		fmt.Fprintf(&b, "cron=%q", s.cronExpr)
	case kindFixedRate:
		fmt.Fprintf(&b, "fixedRate=%s", s.periodText())
	case kindFixedDelay:
		fmt.Fprintf(&b, "fixedDelay=%s", s.periodText())
	case kindOnce:
		b.WriteString("once")
	default:
		return "invalid"
	}
	if s.hasDelay {
		if s.delayStr != "" {
			fmt.Fprintf(&b, " initialDelay=%q", s.delayStr)
		} else {
			fmt.Fprintf(&b, " initialDelay=%s", s.delay)
		}
	}
	if s.zone != nil {
		fmt.Fprintf(&b, " zone=%s", s.zone)
	} else if s.zoneName != "" {
		fmt.Fprintf(&b, " zone=%s", s.zoneName)
	}
	return b.String()
}

func (s Schedule) periodText() string {
	if s.everyStr != "" {
		return fmt.Sprintf("%q", s.everyStr)
	}
	return s.every.String()
}

// IsDisabled reports whether the schedule was switched off with Disabled.
func (s Schedule) IsDisabled() bool {
	return (s.kind == kindCron && s.cronExpr == Disabled) || strings.TrimSpace(s.everyStr) == Disabled
}

// resolve parses the textual parts and checks the combination, returning a
// schedule with every, delay and zone set.
func (s Schedule) resolve() (Schedule, error) {
	unit := s.unit
	if unit <= 0 {
		unit = time.Millisecond
	}
	if s.everyStr != "" {
		d, err := ParseDurationUnit(s.everyStr, unit)
		if err != nil {
			return s, fmt.Errorf("%s: %w", s.kindName(), err)
		}
		s.every = d
	}
	if s.delayStr != "" {
		d, err := ParseDurationUnit(s.delayStr, unit)
		if err != nil {
			return s, fmt.Errorf("initialDelay: %w", err)
		}
		s.delay = d
	}
	if s.zoneName != "" {
		loc, err := time.LoadLocation(s.zoneName)
		if err != nil {
			return s, fmt.Errorf("zone %q: unknown time zone: use an IANA name such as Europe/Berlin or UTC", s.zoneName)
		}
		s.zone = loc
	}
	switch s.kind {
	case kindCron:
		if s.hasDelay {
			return s, errors.New("initialDelay is not supported with cron (as in Spring); drop it or use fixedRate/fixedDelay")
		}
	case kindFixedRate, kindFixedDelay:
		if s.every <= 0 {
			return s, fmt.Errorf("%s %s: must be positive", s.kindName(), s.periodText())
		}
	case kindOnce:
	default:
		return s, errors.New("no schedule: build one with Cron, FixedRate, FixedDelay or Once")
	}
	if s.delay < 0 {
		return s, fmt.Errorf("initialDelay %s: must not be negative", s.delay)
	}
	if (s.zone != nil) && s.kind != kindCron {
		return s, fmt.Errorf("zone applies to cron schedules only, not %s", s.kindName())
	}
	if s.zone == nil && s.kind == kindCron {
		s.zone = time.Local
	}
	return s, nil
}

func (s Schedule) kindName() string {
	switch s.kind {
	case kindCron:
		return "cron"
	case kindFixedRate:
		return "fixedRate"
	case kindFixedDelay:
		return "fixedDelay"
	case kindOnce:
		return "once"
	}
	return "schedule"
}

// interval is the longest gap between two consecutive fires of a resolved
// schedule: the period of a fixed rate or delay; for cron, the longest gap
// among its next thousand fires within two years of now (0 when fewer than
// two fall in that span). Once and disabled schedules have none.
func (s Schedule) interval(now time.Time) time.Duration {
	switch {
	case s.IsDisabled():
		return 0
	case s.kind == kindFixedRate, s.kind == kindFixedDelay:
		return s.every
	case s.kind != kindCron:
		return 0
	}
	expr, err := cron.Parse(s.cronExpr)
	if err != nil {
		return 0
	}
	horizon := now.AddDate(2, 0, 0)
	var longest time.Duration
	prev := expr.Next(now.In(s.zone))
	for range 1000 {
		if prev.IsZero() || prev.After(horizon) {
			break
		}
		next := expr.Next(prev)
		if next.IsZero() || next.After(horizon) {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}
