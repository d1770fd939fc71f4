package leaderjob

import (
	"fmt"
	"strings"
	"time"
)

// EnvCatchUp sets the catch-up policy of every job that sets none:
// off (default), latest:<window> or all:<window>.
const EnvCatchUp = "LEADERJOB_CATCH_UP"

// CatchUp says what a new leader does with the fires of a job that were due
// while nobody ran them (a crash gap, a frozen leader): the fires no term
// claimed in the fleet's ledger, or claimed by a term that never completed
// them. Build one with CatchUpOff, CatchUpLatest, CatchUpAll or
// ParseCatchUp.
//
// Fires skipped on purpose (already_running, disabled) count as handled:
// they are never caught up.
type CatchUp struct {
	mode   catchUpMode
	window time.Duration
}

type catchUpMode int

const (
	catchUpOff catchUpMode = iota
	catchUpLatest
	catchUpAll
)

// CatchUpOff does nothing with missed fires: Spring's behaviour, the
// default.
func CatchUpOff() CatchUp { return CatchUp{} }

// CatchUpLatest runs, once, the most recent missed fire that was due within
// window before the new leader took over (Quartz's "fire once now",
// Kubernetes CronJob's startingDeadlineSeconds).
func CatchUpLatest(window time.Duration) CatchUp { return CatchUp{mode: catchUpLatest, window: window} }

// CatchUpAll runs every missed fire due within window, oldest first, one
// at a time (Temporal's catch-up window). On a fixed-delay job it behaves
// as CatchUpLatest: its fires are not on a fixed grid.
func CatchUpAll(window time.Duration) CatchUp { return CatchUp{mode: catchUpAll, window: window} }

// ParseCatchUp parses off, latest:<window> or all:<window>, the window as
// ParseDuration reads it (PT1H, 10m, 60000).
func ParseCatchUp(s string) (CatchUp, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") {
		return CatchUpOff(), nil
	}
	mode, window, ok := strings.Cut(s, ":")
	if ok {
		d, err := ParseDuration(window)
		switch {
		case err != nil:
			return CatchUp{}, fmt.Errorf("catch-up %q: window: %w", s, err)
		case d <= 0:
			return CatchUp{}, fmt.Errorf("catch-up %q: the window must be positive", s)
		}
		switch strings.ToLower(mode) {
		case "latest":
			return CatchUpLatest(d), nil
		case "all":
			return CatchUpAll(d), nil
		}
	}
	return CatchUp{}, fmt.Errorf("catch-up %q: want off, latest:<window> or all:<window>, such as all:PT1H", s)
}

// IsOff reports whether the policy does nothing with missed fires.
func (c CatchUp) IsOff() bool { return c.mode == catchUpOff }

// String is the policy as ParseCatchUp reads it.
func (c CatchUp) String() string {
	switch c.mode {
	case catchUpLatest:
		return "latest:" + c.window.String()
	case catchUpAll:
		return "all:" + c.window.String()
	}
	return "off"
}
