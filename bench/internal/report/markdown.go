package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Markdown writes the comparison page: the picture (picture is its path
// relative to the page; empty leaves it out), where and how it ran, an
// overview table, a table per fault with the best figure of each column in
// bold, and the cells where a contender other than leaderjob does better.
func Markdown(out io.Writer, r *Result, picture string) error {
	w := bufio.NewWriter(out)
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }

	p("# leaderjob compared: scheduled jobs on several replicas under faults")
	p("")
	p("The same job on %d replicas (separate processes), run by each contender through the same faults, one after the other: "+
		"fires lost and doubled, overlapping runs, fire lag, time to the next run after each fault, and requests to the "+
		"apiserver (or Redis) per replica. Produced by `%s`; the numbers are from one run on one machine, not an average.", r.Settings.Replicas, r.Command)
	p("")
	if picture != "" {
		p("![Which replica ran each fire, per contender, through the faults; lost fires in red, doubled fires in orange](%s)", picture)
		p("")
	}
	p("**Machine**: %s. Run %s, took %s.", machine(r.Machine), r.Started.UTC().Format("2006-01-02 15:04 MST"), time.Duration(r.Took).Round(time.Second))
	p("")
	p("**Command**: `%s` (it installs Debian's `redis-server` if missing, builds the control plane once, and writes `bench/results/<time>/`; "+
		"this page and its picture are the latest such run).", r.Command)
	p("")

	ok, other := split(r.Entries)
	if len(other) > 0 {
		p("Not in the tables:")
		p("")
		for _, c := range other {
			p("- **%s**: %s — %s", c.Label, c.Status, oneLine(c.Detail))
		}
		p("")
	}

	p("## Overview")
	p("")
	p("Summed over the %d faults (steady state included); the lag and the time to the next run are the worst of any fault; "+
		"requests are the steady state's. **Bold**: the best of the column, within run-to-run noise.", len(r.Faults))
	p("")
	overview(w, r, ok)
	p("")

	for _, f := range r.Faults {
		p("## %s", f.Label)
		p("")
		p("%s.", capitalize(f.What))
		p("")
		faultTable(w, f.ID, ok)
		p("")
	}

	p("## Where another contender does better")
	p("")
	best, deflt := betterElsewhere(r, ok)
	if len(best)+len(deflt) == 0 {
		p("Nowhere in this run: in every cell a leaderjob variant is as good or better than each other contender.")
		p("")
	}
	if len(best) > 0 {
		p("Better than every leaderjob variant:")
		p("")
		for _, l := range best {
			p("- %s", l)
		}
		p("")
	}
	if len(deflt) > 0 {
		p("Better than leaderjob's default (lease, no catch-up), though a variant does as well:")
		p("")
		for _, l := range deflt {
			p("- %s", l)
		}
		p("")
	}
	if len(best)+len(deflt) > 0 {
		p("In every other cell of the tables leaderjob's default is as good or better.")
		p("")
	}

	method(w, r)
	return w.Flush()
}

func machine(m Machine) string {
	parts := []string{fmt.Sprintf("%d CPUs", m.CPUs)}
	for _, s := range []string{m.CPUModel, m.Memory, m.Kernel, m.Go, m.APIServer, m.Redis} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// split separates the contenders that ran from those that did not.
func split(cs []*Contender) (ran, other []*Contender) {
	for _, c := range cs {
		if len(c.Segments) > 0 {
			ran = append(ran, c)
		}
		if c.Status != StatusOK {
			other = append(other, c)
		}
	}
	return ran, other
}

// overview is the table of all faults together.
func overview(w *bufio.Writer, r *Result, cs []*Contender) {
	type cell struct {
		v    float64
		ok   bool
		text string
	}
	type ocol struct {
		title string
		tie   func(a, b float64) bool
		cell  func(c *Contender) cell
	}
	sum := func(ci int) func(c *Contender) cell {
		return func(c *Contender) cell {
			total := 0.0
			for _, s := range c.Segments {
				v, _ := columns[ci].value(s)
				total += v
			}
			return cell{total, true, fmt.Sprintf("%.0f", total)}
		}
	}
	worst := func(ci int) func(c *Contender) cell {
		return func(c *Contender) cell {
			var best cell
			for _, s := range c.Segments {
				if v, ok := columns[ci].value(s); ok && (!best.ok || v > best.v) {
					best = cell{v, true, columns[ci].show(s)}
				}
			}
			if !best.ok {
				best.text = "–"
			}
			return best
		}
	}
	cols := []ocol{
		{"fires lost", columns[idxLost].tie, sum(idxLost)},
		{"fires doubled", columns[idxDoubled].tie, sum(idxDoubled)},
		{"runs cut short", columns[idxCutShort].tie, sum(idxCutShort)},
		{"overlapping runs", columns[idxOverlaps].tie, sum(idxOverlaps)},
		{"worst lag p99", columns[idxLagP99].tie, worst(idxLagP99)},
		{"slowest next run after a fault", columns[idxNextRun].tie, worst(idxNextRun)},
		{"requests / replica / min, steady (busiest)", columns[idxRequests].tie, func(c *Contender) cell {
			for _, s := range c.Segments {
				if s.Fault == "steady" {
					v, _ := columns[idxRequests].value(s)
					return cell{v, true, columns[idxRequests].show(s)}
				}
			}
			return cell{text: "–"}
		}},
	}
	titles := []string{"contender"}
	for _, c := range cols {
		titles = append(titles, c.title)
	}
	header(w, titles)
	cells := make([][]cell, len(cs))
	for i, c := range cs {
		for _, col := range cols {
			cells[i] = append(cells[i], col.cell(c))
		}
	}
	for i, c := range cs {
		row := []string{c.Label + partial(c)}
		for j, col := range cols {
			best := math.Inf(1)
			for k := range cs {
				if cells[k][j].ok {
					best = math.Min(best, cells[k][j].v)
				}
			}
			x := cells[i][j]
			row = append(row, bold(x.text, x.ok && (x.v == best || col.tie(x.v, best))))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

// faultTable is the table of one fault: a row per contender.
func faultTable(w *bufio.Writer, fault string, cs []*Contender) {
	titles := []string{"contender"}
	for _, c := range columns {
		titles = append(titles, c.title)
	}
	header(w, titles)
	segs := make([]*Segment, len(cs))
	for i, c := range cs {
		for j := range c.Segments {
			if c.Segments[j].Fault == fault {
				segs[i] = &c.Segments[j]
			}
		}
	}
	for i, c := range cs {
		row := []string{c.Label + partial(c)}
		for _, col := range columns {
			s := segs[i]
			if s == nil {
				row = append(row, "–")
				continue
			}
			v, ok := col.value(*s)
			row = append(row, bold(col.show(*s), ok && isBest(col, v, fault, cs)))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
	}
}

// isBest reports whether v is the best of col for fault, within its ties.
func isBest(col column, v float64, fault string, cs []*Contender) bool {
	best := math.Inf(1)
	for _, c := range cs {
		for _, s := range c.Segments {
			if s.Fault == fault {
				if x, ok := col.value(s); ok {
					best = math.Min(best, x)
				}
			}
		}
	}
	return v == best || col.tie(v, best)
}

// betterElsewhere lists the cells where a contender other than leaderjob
// does better, by more than the noise, than every leaderjob variant
// (best), or else than leaderjob's default configuration (deflt).
func betterElsewhere(r *Result, cs []*Contender) (best, deflt []string) {
	for _, f := range r.Faults {
		for _, col := range columns {
			lj := bestOf(cs, f.ID, col, isLeaderjob)
			def := bestOf(cs, f.ID, col, func(c *Contender) bool { return c.ID == DefaultID })
			for _, c := range cs {
				if isLeaderjob(c) {
					continue
				}
				o := bestOf(cs, f.ID, col, func(x *Contender) bool { return x == c })
				switch {
				case !o.ok:
				case lj.ok && o.v < lj.v && !col.tie(o.v, lj.v):
					best = append(best, fmt.Sprintf("%s, %s: **%s** %s, against %s for the best leaderjob variant (%s).",
						f.Label, col.title, c.Label, o.text, lj.text, lj.label))
				case def.ok && o.v < def.v && !col.tie(o.v, def.v):
					deflt = append(deflt, fmt.Sprintf("%s, %s: **%s** %s, against %s for %s.",
						f.Label, col.title, c.Label, o.text, def.text, def.label))
				}
			}
		}
	}
	return best, deflt
}

// DefaultID is the contender that runs leaderjob as it comes: the Lease
// guard, no catch-up.
const DefaultID = "leaderjob"

// found is the best value of a column among some contenders.
type found struct {
	ok          bool
	v           float64
	text, label string
}

// bestOf returns the best (lowest) value of col for fault among the
// contenders in cs that match.
func bestOf(cs []*Contender, fault string, col column, match func(*Contender) bool) found {
	var b found
	for _, c := range cs {
		if !match(c) {
			continue
		}
		for _, s := range c.Segments {
			if v, ok := col.value(s); ok && s.Fault == fault && (!b.ok || v < b.v) {
				b = found{true, v, col.show(s), c.Label}
			}
		}
	}
	return b
}

func header(w *bufio.Writer, titles []string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(titles, " | "))
	seps := make([]string, len(titles))
	for i := range seps {
		seps[i] = "---"
		if i > 0 {
			seps[i] = "--:"
		}
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(seps, "|"))
}

func bold(s string, b bool) string {
	if b {
		return "**" + s + "**"
	}
	return s
}

func partial(c *Contender) string {
	if c.Status != StatusOK {
		return " (" + c.Status + ")"
	}
	return ""
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
