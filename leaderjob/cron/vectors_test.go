package cron

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "time/tzdata" // zone data for machines without a system zoneinfo
)

// nextVector is one line of testdata/cron/next.txt.
type nextVector struct {
	line int
	expr string
	zone string
	from string
	want []string
}

func readNextVectors(t *testing.T) []nextVector {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "cron", "next.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []nextVector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 4 {
			t.Fatalf("next.txt:%d: want 4 fields separated by |, got %d", n, len(parts))
		}
		out = append(out, nextVector{
			line: n,
			expr: strings.TrimSpace(parts[0]),
			zone: strings.TrimSpace(parts[1]),
			from: strings.TrimSpace(parts[2]),
			want: strings.Fields(parts[3]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no vectors read")
	}
	return out
}

func TestNextVectors(t *testing.T) {
	for _, v := range readNextVectors(t) {
		loc, err := time.LoadLocation(v.zone)
		if err != nil {
			t.Fatalf("next.txt:%d: %v", v.line, err)
		}
		e, err := Parse(v.expr)
		if err != nil {
			t.Errorf("next.txt:%d: Parse(%q): %v", v.line, v.expr, err)
			continue
		}
		from, err := time.Parse(time.RFC3339Nano, v.from)
		if err != nil {
			t.Fatalf("next.txt:%d: %v", v.line, err)
		}
		cur := from.In(loc)
		for i, w := range v.want {
			got := e.Next(cur)
			if w == "none" {
				if !got.IsZero() {
					t.Errorf("next.txt:%d: %q Next(%s) = %s, want none", v.line, v.expr, cur.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
				}
				break
			}
			want, err := time.Parse(time.RFC3339Nano, w)
			if err != nil {
				t.Fatalf("next.txt:%d: %v", v.line, err)
			}
			_, gotOff := got.Zone()
			_, wantOff := want.Zone()
			if !got.Equal(want) || gotOff != wantOff || got.Location() != loc {
				t.Errorf("next.txt:%d: %q step %d: Next(%s) = %s, want %s", v.line, v.expr, i+1, cur.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano), w)
				break
			}
			cur = got
		}
	}
}

// With an "L-n" offset reaching into an earlier month, Spring's search can
// end at the start time itself; Next then reports no fire time rather
// than a time that is not after its argument.
func TestNextNeverGoesBackwards(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		expr string
		from time.Time
	}{
		{"* 0 0 L-70 1 0", time.Date(2078, 12, 20, 0, 0, 0, 0, ny)},
		{"0 0 0 L-30 * *", time.Date(2021, 3, 31, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		raw, ok := e.search(tt.from)
		if !ok || !raw.Equal(tt.from) {
			t.Errorf("%q: search(%s) = %s, %v; want the start time itself", tt.expr, tt.from, raw, ok)
		}
		if got := e.Next(tt.from); !got.IsZero() {
			t.Errorf("%q: Next(%s) = %s, want zero", tt.expr, tt.from, got)
		}
	}
}

func TestNextOutOfRange(t *testing.T) {
	e, err := Parse("* * * * * *")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Next(time.Date(1_000_000_000, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("Next beyond year 999999999 = %s, want zero", got)
	}
	if got := e.Next(time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(-5000, 1, 1, 0, 0, 1, 0, time.UTC)) {
		t.Errorf("Next in year -5000 = %s", got)
	}
	var nilExpr *Expression
	if got := nilExpr.Next(time.Now()); !got.IsZero() {
		t.Errorf("nil Next = %s", got)
	}
	// A huge ordinal makes Java's dates overflow; Next gives up.
	e, err = Parse("0 0 0 ? * MON#2147483647")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Next(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Errorf("MON#2147483647: Next = %s, want zero", got)
	}
}

// Expressions are immutable and may be shared between goroutines.
func TestNextConcurrent(t *testing.T) {
	e, err := Parse("0 */5 * ? * MON-FRI")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	want := e.Next(from)
	done := make(chan time.Time)
	for range 8 {
		go func() {
			var got time.Time
			for range 200 {
				got = e.Next(from)
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; !got.Equal(want) {
			t.Errorf("concurrent Next = %s, want %s", got, want)
		}
	}
}

// The hour field alone, as in Spring's BitsCronFieldTests for gh-36865:
// once the field rolls into the next day, it continues from the hour the
// clock reads there (a gap may have skipped midnight) and never moves a
// whole day too far.
func TestHourFieldRollsOverGap(t *testing.T) {
	tests := []struct {
		hours, zone string
		from, want  time.Time
	}{
		// Africa/Cairo skips 2025-04-25 00:00-01:00.
		{"0-23/2", "Africa/Cairo", time.Date(2025, 4, 24, 23, 0, 0, 0, time.FixedZone("", 2*3600)), time.Date(2025, 4, 25, 2, 0, 0, 0, time.FixedZone("", 3*3600))},
		// America/New_York skips 2026-03-08 02:00-03:00.
		{"0,2", "America/New_York", time.Date(2026, 3, 8, 1, 0, 0, 0, time.FixedZone("", -5*3600)), time.Date(2026, 3, 9, 0, 0, 0, 0, time.FixedZone("", -4*3600))},
	}
	for _, tt := range tests {
		loc, err := time.LoadLocation(tt.zone)
		if err != nil {
			t.Fatal(err)
		}
		f, ferr := parsePlain(tt.hours, tt.hours, kHour)
		if ferr != nil {
			t.Fatalf("%q: %v", tt.hours, ferr)
		}
		got, ok := f.nextOrSame(fromTime(tt.from.In(loc)))
		if !ok || !got.time().Equal(tt.want) || got.off != offsetAt(loc, tt.want.Unix()) {
			t.Errorf("hours %q in %s: nextOrSame(%s) = %s, %v; want %s", tt.hours, tt.zone, tt.from.Format(time.RFC3339), got.time().Format(time.RFC3339), ok, tt.want.Format(time.RFC3339))
		}
	}
}
