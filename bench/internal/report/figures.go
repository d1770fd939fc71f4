package report

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// column is one figure of the tables: how to read it from a segment, show
// it, and compare two values (lower is better for every figure).
type column struct {
	title string
	// value reads the figure; ok is false where it does not apply (the
	// time to the next run when nothing hit a replica).
	value func(s Segment) (v float64, ok bool)
	show  func(s Segment) string
	// tie is how close two values are to count as equal: run-to-run noise
	// on this machine, not a difference.
	tie func(a, b float64) bool
}

// The columns' indexes.
const (
	idxLost = iota
	idxDoubled
	idxCutShort
	idxOverlaps
	idxLagP50
	idxLagP99
	idxNextRun
	idxRequests
)

var columns = []column{
	{
		title: "fires lost",
		value: func(s Segment) (float64, bool) { return float64(len(s.Figures.Lost)), true },
		show:  func(s Segment) string { return fmt.Sprint(len(s.Figures.Lost)) },
		tie:   func(a, b float64) bool { return a == b },
	},
	{
		title: "fires doubled",
		value: func(s Segment) (float64, bool) { return float64(len(s.Figures.Doubled)), true },
		show: func(s Segment) string {
			f := s.Figures
			if f.Extra > len(f.Doubled) {
				return fmt.Sprintf("%d (%d extra runs)", len(f.Doubled), f.Extra)
			}
			return fmt.Sprint(len(f.Doubled))
		},
		tie: func(a, b float64) bool { return a == b },
	},
	{
		title: "runs cut short",
		value: func(s Segment) (float64, bool) { return float64(s.Figures.CutShort), true },
		show:  func(s Segment) string { return fmt.Sprint(s.Figures.CutShort) },
		tie:   func(a, b float64) bool { return a == b },
	},
	{
		title: "overlapping runs",
		value: func(s Segment) (float64, bool) { return float64(s.Figures.Overlaps), true },
		show:  func(s Segment) string { return fmt.Sprint(s.Figures.Overlaps) },
		tie:   func(a, b float64) bool { return a == b },
	},
	{
		title: "lag p50",
		value: func(s Segment) (float64, bool) { return seconds(s.Figures.LagP50), s.Figures.Runs > 0 },
		show:  func(s Segment) string { return lag(s.Figures.LagP50, s.Figures.Runs) },
		tie:   near(0.02, 0.25),
	},
	{
		title: "lag p99",
		value: func(s Segment) (float64, bool) { return seconds(s.Figures.LagP99), s.Figures.Runs > 0 },
		show:  func(s Segment) string { return lag(s.Figures.LagP99, s.Figures.Runs) },
		tie:   near(0.02, 0.25),
	},
	{
		title: "next run after the fault",
		value: func(s Segment) (float64, bool) {
			switch f := s.Figures; {
			case !f.HasEvents:
				return 0, false
			case f.NoNextRun:
				return math.Inf(1), true
			default:
				return seconds(f.NextRun), true
			}
		},
		show: func(s Segment) string {
			switch f := s.Figures; {
			case !f.HasEvents:
				return "–"
			case f.NoNextRun:
				return "none in the segment"
			default:
				return fmt.Sprintf("%.1f s", seconds(f.NextRun))
			}
		},
		tie: near(0.3, 0.15),
	},
	{
		title: "requests / replica / min (busiest)",
		value: func(s Segment) (float64, bool) { return s.Requests, true },
		show:  func(s Segment) string { return fmt.Sprintf("%.0f (%.0f)", s.Requests, s.Busiest) },
		tie:   near(2, 0.15),
	},
}

// near makes a tie rule: values within abs, or within the fraction rel of
// the larger, are equal.
func near(abs, rel float64) func(a, b float64) bool {
	return func(a, b float64) bool {
		d := math.Abs(a - b)
		return d <= abs || d <= rel*math.Max(math.Abs(a), math.Abs(b))
	}
}

func seconds(d time.Duration) float64 { return d.Seconds() }

func lag(d time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	default:
		return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
	}
}

// isLeaderjob reports whether the contender is a leaderjob variant.
func isLeaderjob(c *Contender) bool { return strings.HasPrefix(c.ID, "leaderjob") }
