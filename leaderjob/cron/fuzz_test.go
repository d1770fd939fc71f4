package cron

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// hugeOrdinal matches a "#n" whose day offset, (n-1)*7, may not fit in a
// 32-bit int (n of about 306,700,000 or more).
var hugeOrdinal = regexp.MustCompile(`#\+?0*([4-9]\d{8}|3[1-9]\d{7}|30[7-9]\d{6}|306[7-9]\d{5}|\d{10,})`)

func FuzzParse(f *testing.F) {
	seeds := []string{
		"* * * * * *", "0 0 0 31 6 *", "0 0 0 29 2 MON", "0 0 0 L-3 * *",
		"0 0 0 LW * *", "0 0 0 1W,15,LW * ?", "0 0 0 ? * 5#2", "0 0 0 ? * THU#1,THU#3,THU#5",
		"0 0 0 * * 5L", "0 15 12 */10 1-8 5", "3-57 13-28 17,18 1,15 3-12 6#1",
		"@hourly", "@weekly", "-", "", "0 0 0 ? * 5#6", "0 0 0 L-30 * *",
		"+1-+5 * * * * *", "0 0 0 * * 7-7", "0 0 */2 * * ?", "0 0 0 31W * ?",
		"0 0 0 ? * MON#2147483647", "59 59 23 31 12 *", "0 0 0 ? * 1L,2#5,L",
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Africa/Cairo", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Apia"}
	for i, s := range seeds {
		f.Add(s, int64(1_600_000_000+i*7_777_777), uint8(i))
	}
	locs := make([]*time.Location, len(zones))
	for i, z := range zones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, expr string, sec int64, zone uint8) {
		e, err := Parse(expr)
		if err != nil {
			if e != nil {
				t.Fatalf("Parse(%q) returned both an expression and %v", expr, err)
			}
			return
		}
		if e.String() != expr {
			t.Fatalf("String() = %q, want %q", e.String(), expr)
		}
		// keep the start within a few centuries of today
		sec = sec % (400 * 366 * 86400)
		from := time.Unix(1_700_000_000+sec, sec%1e9).In(locs[int(zone)%len(locs)])
		if raw, ok := e.search(from); ok && !raw.After(from) && !strings.Contains(expr, "L-") && !hugeOrdinal.MatchString(expr) {
			// Only an "L-n" offset reaching into an earlier month, or an
			// ordinal so large that java.time's int arithmetic wraps, may
			// make Spring's search go backwards.
			t.Fatalf("%q: search(%s) = %s, not after it", expr, from, raw)
		}
		next := e.Next(from)
		if next.IsZero() {
			return
		}
		if !next.After(from) {
			t.Fatalf("%q: Next(%s) = %s, not after it", expr, from, next)
		}
		if next.Nanosecond() != 0 || next.Location() != from.Location() {
			t.Fatalf("%q: Next(%s) = %s", expr, from, next)
		}
		// A fire time must not be skipped: asking again from just before it
		// finds it again.
		if again := e.Next(next.Add(-time.Nanosecond)); !again.Equal(next) {
			t.Fatalf("%q: Next(%s) = %s, but Next(%s - 1ns) = %s", expr, from, next, next, again)
		}
		if after := e.Next(next); !after.IsZero() && !after.After(next) {
			t.Fatalf("%q: Next(%s) = %s, not after it", expr, next, after)
		}
	})
}

func TestHugeOrdinalPattern(t *testing.T) {
	for s, want := range map[string]bool{
		"MON#1124144782": true, "MON#306900000": true, "MON#400000000": true, "MON#12345678901": true,
		"MON#306600000": false, "MON#99999999": false, "MON#5": false, "L-3": false,
	} {
		if got := hugeOrdinal.MatchString(s); got != want {
			t.Errorf("hugeOrdinal(%q) = %v, want %v", s, got, want)
		}
	}
}
