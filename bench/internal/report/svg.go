package report

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// Geometry of the picture, in pixels.
const (
	svgWidth   = 1000.0
	plotLeft   = 58.0
	plotRight  = svgWidth - 12
	laneHeight = 9.0
	panelGap   = 16.0
)

// Colours.
const (
	colRun     = "#3b6fb6"
	colCatchUp = "#8e5bb5"
	colDoubled = "#e8890c"
	colLost    = "#d62728"
	colFault   = "#7a1f1f"
	colLife    = "#c8c8c8"
	colBandA   = "#f4f4f4"
	colBandB   = "#ffffff"
	colText    = "#222222"
	colMuted   = "#666666"
)

// faultShort names the faults in the picture's bands.
var faultShort = map[string]string{
	"steady": "steady", "sigterm": "SIGTERM", "sigkill": "SIGKILL",
	"sigstop": "SIGSTOP/CONT", "rollout": "rollout", "partition": "cut off",
}

// SVG draws, for each contender that ran, a timeline of its fires: a lane
// per replica with a mark at each fire it ran, the replica's lifetime as a
// thin line, the faults as bands and dashed lines at the instants they
// hit, and lanes of the lost and the doubled fires.
func SVG(out io.Writer, r *Result) error {
	ran, _ := split(r.Entries)
	span := time.Duration(0)
	for _, c := range ran {
		span = max(span, c.Segments[len(c.Segments)-1].Window.To.Sub(c.Segments[0].Window.From))
	}
	if span <= 0 {
		span = time.Minute
	}
	scale := (plotRight - plotLeft) / span.Seconds()

	var body bytes.Buffer
	y := legend(&body)
	for _, c := range ran {
		y = panel(&body, r, c, y, scale, span) + panelGap
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif">`+"\n",
		svgWidth, y, svgWidth, y)
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	_, _ = w.Write(body.Bytes())
	fmt.Fprintln(w, "</svg>")
	return w.Flush()
}

// legend draws the key and returns the y below it.
func legend(b *bytes.Buffer) float64 {
	text(b, 10, 18, 14, colText, "bold", "Which replica ran each fire (one a second), per contender, through the same faults")
	x := 10.0
	item := func(colour, label string) {
		fmt.Fprintf(b, `<rect x="%.1f" y="28" width="10" height="8" fill="%s"/>`+"\n", x, colour)
		text(b, x+14, 36, 11, colText, "", label)
		x += 14 + 6.2*float64(len(label)) + 18
	}
	item(colRun, "a run of the fire")
	item(colCatchUp, "a catch-up run (late)")
	item(colDoubled, "a run of a doubled fire")
	fmt.Fprintf(b, `<rect x="%.1f" y="28.5" width="9" height="7" fill="#ffffff" stroke="%s"/>`+"\n", x, colRun)
	text(b, x+14, 36, 11, colText, "", "a run cut short")
	x += 14 + 6.2*float64(len("a run cut short")) + 18
	item(colLost, "a lost fire")
	fmt.Fprintf(b, `<line x1="%.1f" y1="26" x2="%.1f" y2="38" stroke="%s" stroke-dasharray="3,2"/>`+"\n", x, x, colFault)
	text(b, x+6, 36, 11, colText, "", "a fault hits a replica")
	return 52
}

// panel draws one contender's timeline from y and returns the y below it.
func panel(b *bytes.Buffer, r *Result, c *Contender, y, scale float64, span time.Duration) float64 {
	t0 := c.Segments[0].Window.From
	x := func(t time.Time) float64 { return plotLeft + t.Sub(t0).Seconds()*scale }
	clip := func(v float64) float64 { return min(max(v, plotLeft), plotRight) }

	title := c.Label
	if c.Status != StatusOK {
		title += " (" + c.Status + ")"
	}
	text(b, 10, y+13, 13, colText, "bold", title)
	bandTop := y + 18
	lanes := len(c.Replicas) + 2 // the replicas, lost, doubled
	bottom := bandTop + 14 + float64(lanes)*laneHeight + 4

	// Fault bands, with their names.
	for i, s := range c.Segments {
		fill := colBandA
		if i%2 == 1 {
			fill = colBandB
		}
		x1, x2 := clip(x(s.Window.From)), clip(x(s.Window.To))
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x1, bandTop, x2-x1, bottom-bandTop, fill)
		name := faultShort[s.Fault]
		if name == "" {
			name = r.fault(s.Fault).Label
		}
		text(b, x1+3, bandTop+10, 10, colMuted, "", name)
	}

	laneY := func(i int) float64 { return bandTop + 14 + float64(i)*laneHeight }
	index := map[string]int{}
	for i, rep := range c.Replicas {
		index[rep.Name] = i
		text(b, 10, laneY(i)+7.5, 9, colMuted, "", rep.Name+" "+rep.Release)
		end := rep.End
		if end.IsZero() {
			end = c.End
		}
		ly := laneY(i) + laneHeight/2
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`+"\n",
			clip(x(rep.Start)), ly, clip(x(end)), ly, colLife)
	}
	lostLane, doubledLane := len(c.Replicas), len(c.Replicas)+1
	text(b, 10, laneY(lostLane)+7.5, 9, colLost, "", "lost")
	text(b, 10, laneY(doubledLane)+7.5, 9, colDoubled, "", "doubled")

	doubled := map[int64]bool{} // by Unix nanoseconds
	for _, s := range c.Segments {
		for _, t := range s.Figures.Doubled {
			doubled[t.UnixNano()] = true
			mark(b, x(t), laneY(doubledLane), scale, colDoubled)
		}
		for _, t := range s.Figures.Lost {
			mark(b, x(t), laneY(lostLane), scale, colLost)
		}
	}
	from, to := c.Segments[0].Window.From, c.Segments[len(c.Segments)-1].Window.To
	for _, run := range c.Runs {
		i, ok := index[run.Replica]
		if !ok || run.Slot.Before(from) || !run.Slot.Before(to) {
			continue
		}
		colour := colRun
		switch {
		case doubled[run.Slot.Truncate(time.Second).UnixNano()]:
			colour = colDoubled
		case run.CatchUp:
			colour = colCatchUp
		}
		if run.Outcome == "canceled" {
			hollow(b, x(run.Slot), laneY(i), scale, colour)
			continue
		}
		mark(b, x(run.Slot), laneY(i), scale, colour)
	}
	for _, s := range c.Segments {
		for _, e := range s.Events {
			ex := clip(x(e.At))
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.2" stroke-dasharray="3,2"/>`+"\n",
				ex, bandTop+12, ex, bottom, colFault)
		}
	}
	axis(b, bottom, scale, span)
	return bottom + 12
}

// mark draws one fire's mark in the lane at y.
func mark(b *bytes.Buffer, x, y, scale float64, colour string) {
	w := max(scale*0.75, 1.2)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y+1, w, laneHeight-2, colour)
}

// hollow draws the mark of a run cut short: an outline.
func hollow(b *bytes.Buffer, x, y, scale float64, colour string) {
	w := max(scale*0.75, 1.2)
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#ffffff" stroke="%s" stroke-width="1"/>`+"\n",
		x+0.5, y+1.5, w-1, laneHeight-3, colour)
}

// axis draws seconds under a panel.
func axis(b *bytes.Buffer, y, scale float64, span time.Duration) {
	for s := 0.0; s <= span.Seconds(); s += 30 {
		x := plotLeft + s*scale
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x, y, x, y+3, colMuted)
		text(b, x-6, y+11, 8, colMuted, "", fmt.Sprintf("%.0fs", s))
	}
}

func text(b *bytes.Buffer, x, y, size float64, colour, weight, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="%.0f" fill="%s"`, x, y, size, colour)
	if weight != "" {
		fmt.Fprintf(b, ` font-weight="%s"`, weight)
	}
	b.WriteString(">")
	_ = xml.EscapeText(b, []byte(s))
	b.WriteString("</text>\n")
}
