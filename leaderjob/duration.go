package leaderjob

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidDuration is wrapped by every error of ParseDuration.
var ErrInvalidDuration = errors.New("invalid duration")

// ParseDuration parses a duration the way Spring reads fixedRateString,
// fixedDelayString and initialDelayString:
//
//   - ISO-8601, as java.time.Duration.parse accepts it: PT15M, PT1H30M,
//     P2D, PT0.5S, -PT10S (case-insensitive);
//   - a Go duration or Spring's simple style: 10s, 250ms, 1h30m, 2d;
//   - a bare integer, in milliseconds (Spring's default time unit).
//
// Use ParseDurationUnit for another unit of bare integers.
func ParseDuration(s string) (time.Duration, error) {
	return ParseDurationUnit(s, time.Millisecond)
}

// ParseDurationUnit is ParseDuration with bare integers counted in unit, like
// Spring's timeUnit attribute.
func ParseDurationUnit(s string, unit time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fmt.Errorf("%w: empty value: %s", ErrInvalidDuration, durationHint)
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if unit <= 0 {
			unit = time.Millisecond
		}
		if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
			return 0, fmt.Errorf("%w: %q overflows", ErrInvalidDuration, s)
		}
		return time.Duration(n) * unit, nil
	}
	if isISO(v) {
		d, err := parseISO(v)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: %v: %s", ErrInvalidDuration, s, err, durationHint)
		}
		return d, nil
	}
	if d, ok := parseDays(v); ok {
		return d, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %s", ErrInvalidDuration, s, durationHint)
	}
	return d, nil
}

const durationHint = "use an ISO-8601 duration (PT15M), a Go duration (10s, 250ms, 1h30m) or a whole number of milliseconds (5000)"

func isISO(v string) bool {
	v = strings.TrimLeft(v, "+-")
	return len(v) > 0 && (v[0] == 'P' || v[0] == 'p')
}

// parseDays accepts Spring's simple style in whole days ("2d"), which
// time.ParseDuration lacks.
func parseDays(v string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(v, "d")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/int64(24*time.Hour) || n < math.MinInt64/int64(24*time.Hour) {
		return 0, false
	}
	return time.Duration(n) * 24 * time.Hour, true
}

// parseISO parses java.time.Duration's text form: [-+]P[nD][T[nH][nM][n[.f]S]],
// each number optionally signed, at least one part present.
func parseISO(v string) (time.Duration, error) {
	s := strings.ToUpper(v)
	negate := false
	switch s[0] {
	case '-':
		negate, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	s = s[1:] // the P
	datePart, timePart, hasT := strings.Cut(s, "T")
	if hasT && timePart == "" {
		return 0, errors.New("a T must be followed by hours, minutes or seconds")
	}
	if datePart == "" && !hasT {
		return 0, errors.New("no parts after P")
	}
	var total float64
	parts := 0
	add := func(section, units string) error {
		for section != "" {
			i := strings.IndexAny(section, units)
			if i <= 0 {
				return fmt.Errorf("expected a number followed by one of %s", units)
			}
			if !isDecimal(section[:i], section[i] == 'S') {
				return fmt.Errorf("bad number %q", section[:i])
			}
			n, err := strconv.ParseFloat(section[:i], 64)
			if err != nil {
				return fmt.Errorf("bad number %q", section[:i])
			}
			total += n * float64(isoUnit[section[i]])
			units = units[strings.IndexByte(units, section[i])+1:] // parts come in order, once each
			section = section[i+1:]
			parts++
		}
		return nil
	}
	if err := add(datePart, "D"); err != nil {
		return 0, err
	}
	if err := add(timePart, "HMS"); err != nil {
		return 0, err
	}
	if parts == 0 {
		return 0, errors.New("no parts")
	}
	if negate {
		total = -total
	}
	if total > math.MaxInt64 || total < math.MinInt64 {
		return 0, errors.New("out of range")
	}
	return time.Duration(math.Round(total)), nil
}

var isoUnit = map[byte]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute, 'S': time.Second}

// isDecimal reports whether s is an optionally signed decimal number, with a
// fraction only where allowed (java.time allows fractions of seconds only).
func isDecimal(s string, fraction bool) bool {
	s = strings.TrimLeft(s, "+-")
	whole, frac, dot := strings.Cut(s, ".")
	if dot && (!fraction || frac == "") || whole == "" {
		return false
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
