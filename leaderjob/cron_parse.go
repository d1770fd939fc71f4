package leaderjob

import (
	"fmt"
	"strings"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// parseCron parses a six-field cron expression.
func parseCron(expr string) (cronExpression, error) {
	if len(strings.Fields(expr)) != 6 && !strings.HasPrefix(expr, "@") {
		return nil, fmt.Errorf("cron %q: want 6 fields (second minute hour day-of-month month day-of-week)", expr)
	}
	p := robfig.NewParser(robfig.Second | robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow | robfig.Descriptor)
	s, err := p.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w", expr, err)
	}
	return robfigNext{s}, nil
}

type robfigNext struct{ s robfig.Schedule }

func (r robfigNext) Next(t time.Time) time.Time { return r.s.Next(t) }
