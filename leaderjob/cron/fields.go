package cron

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unicode"
)

// kind identifies one field of a cron expression; kNano is the hidden
// seventh field that pins fire times to whole seconds.
type kind uint8

const (
	kNano kind = iota
	kSecond
	kMinute
	kHour
	kDayOfMonth
	kMonth
	kDayOfWeek
)

var kinds = [...]struct {
	name     string
	min, max int  // values accepted in any period (day of week: 1=Monday..7=Sunday)
	unit     unit // what one step of the field adds
	higher   unit // what moves into the next period of the field
}{
	kNano:       {"nanosecond", 0, 999_999_999, nanos, seconds},
	kSecond:     {"second", 0, 59, seconds, minutes},
	kMinute:     {"minute", 0, 59, minutes, hours},
	kHour:       {"hour", 0, 23, hours, days},
	kDayOfMonth: {"day-of-month", 1, 31, days, months},
	kMonth:      {"month", 1, 12, months, years},
	kDayOfWeek:  {"day-of-week", 1, 7, days, weeks},
}

// field is one parsed field of an expression.
type field interface {
	// nextOrSame returns the earliest time at or after z that this field
	// accepts, moving smaller fields to their minimum where it moved z.
	// It reports false when the search gives up.
	nextOrSame(z zoned) (zoned, bool)
}

// bitsField accepts a fixed set of values, one bit per value. Days of the
// week use bits 1 (Monday) to 7 (Sunday).
type bitsField struct {
	kind kind
	bits uint64
}

// zeroNanos is the hidden field that truncates fire times to the second.
var zeroNanos = bitsField{kind: kNano, bits: 1}

// quartzMode names the day-of-month and day-of-week specials.
type quartzMode uint8

const (
	lastDay        quartzMode = iota // "L"
	lastDayOffset                    // "L-n": n is negative
	lastWeekday                      // "LW"
	nearestWeekday                   // "nW"
	lastInMonth                      // "dL": the last weekday dow of the month
	nthInMonth                       // "d#n": the n-th weekday dow of the month
)

type quartzField struct {
	kind kind
	mode quartzMode
	n    int // day of month, negative offset or ordinal, depending on mode
	dow  int // 1=Monday..7=Sunday
}

// compositeField is a list that mixes specials with plain values.
type compositeField struct {
	parts []field
}

func trailingZeros(b uint64) int { return bits.TrailingZeros64(b) }

// fieldErr describes a problem inside one field.
type fieldErr struct {
	token  string
	reason string
}

var (
	monthNames = [...]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = [...]string{"MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}
)

// replaceNames upper-cases s and replaces every name by its 1-based index,
// wherever it occurs, so that "fri#2" becomes "5#2".
func replaceNames(s string, names []string) string {
	s = strings.ToUpper(s)
	for i, n := range names {
		s = strings.ReplaceAll(s, n, fmt.Sprint(i+1))
	}
	return s
}

func parseMonth(value string) (field, *fieldErr) {
	return parsePlain(replaceNames(value, monthNames[:]), value, kMonth)
}

func parseDayOfMonth(value string) (field, *fieldErr) {
	if !strings.ContainsAny(value, "LW") {
		return parseDate(value, value, kDayOfMonth)
	}
	return parseList(value, value, kDayOfMonth)
}

func parseDayOfWeek(value string) (field, *fieldErr) {
	v := replaceNames(value, dayNames[:])
	if !strings.ContainsAny(v, "L#") {
		return parseDate(v, value, kDayOfWeek)
	}
	return parseList(v, value, kDayOfWeek)
}

// parseList parses a day field that contains at least one special element.
// Each element is parsed on its own; plain elements keep their meaning.
func parseList(value, orig string, k kind) (field, *fieldErr) {
	elems, toks := splitList(value, orig)
	parts := make([]field, 0, len(elems))
	for i, el := range elems {
		if el == "" {
			return nil, emptyElement(orig)
		}
		var (
			f   field
			err *fieldErr
		)
		switch {
		case k == kDayOfMonth && strings.ContainsAny(el, "LW"):
			f, err = parseQuartzDayOfMonth(el, toks[i])
		case k == kDayOfWeek && strings.ContainsAny(el, "L#"):
			f, err = parseQuartzDayOfWeek(el, toks[i])
		default:
			f, err = parseDate(el, toks[i], k)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, f)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return compositeField{parts: parts}, nil
}

// parseDate parses a plain day field, where a lone "?" means "*".
func parseDate(value, orig string, k kind) (bitsField, *fieldErr) {
	if value == "?" {
		value = "*"
	}
	return parsePlain(value, orig, k)
}

// parsePlain parses a list of values, ranges and steps. orig is the field
// as written, used for error messages.
func parsePlain(value, orig string, k kind) (bitsField, *fieldErr) {
	if value == "" {
		return bitsField{}, &fieldErr{orig, "empty value"}
	}
	f := bitsField{kind: k}
	elems, toks := splitList(value, orig)
	for i, el := range elems {
		if el == "" {
			return bitsField{}, emptyElement(orig)
		}
		if err := f.add(el, toks[i]); err != nil {
			return bitsField{}, err
		}
	}
	if k == kDayOfWeek && f.bits&1 != 0 {
		// 0 is another name for Sunday, which is 7 here.
		f.bits = f.bits&^1 | 1<<7
	}
	return f, nil
}

func emptyElement(field string) *fieldErr {
	return &fieldErr{field, fmt.Sprintf("empty list element in %q", field)}
}

// splitList splits a field at commas, pairing each element with its
// original spelling.
func splitList(value, orig string) (elems, toks []string) {
	elems = strings.Split(value, ",")
	toks = strings.Split(orig, ",")
	if len(toks) != len(elems) {
		toks = elems
	}
	return elems, toks
}

// add adds one list element: "*", "v", "a-b", each optionally followed by
// "/step". A step after "*" or a single value runs to the field maximum.
func (f *bitsField) add(el, tok string) *fieldErr {
	k := f.kind
	rs, step := el, 1
	if slash := strings.IndexByte(el, '/'); slash >= 0 {
		rs = el[:slash]
		lo, hi, err := parseRange(rs, tok, k)
		if err != nil {
			return err
		}
		if !strings.Contains(rs, "-") {
			hi = kinds[k].max
		}
		s, ok := parseInt(el[slash+1:])
		if !ok {
			return &fieldErr{tok, fmt.Sprintf("invalid step %q in %q", el[slash+1:], tok)}
		}
		if s <= 0 {
			return &fieldErr{tok, fmt.Sprintf("step in %q must be 1 or higher", tok)}
		}
		step = s
		f.set(lo, hi, step)
		return nil
	}
	lo, hi, err := parseRange(rs, tok, k)
	if err != nil {
		return err
	}
	f.set(lo, hi, step)
	return nil
}

// set sets every step-th value from lo to hi. Like Spring's loop it counts
// in a 32-bit int and shifts by the low six bits of the value, so a step
// close to 2^31 wraps around ("5/2147483647" sets 0-5 and the unused bit
// 63); the loop still ends within a few rounds.
func (f *bitsField) set(lo, hi, step int) {
	for v := int32(lo); v <= int32(hi); v += int32(step) {
		f.bits |= 1 << (uint32(v) & 63)
	}
}

// parseRange parses "*", "v" or "a-b" into an inclusive range. In the
// day-of-week field a range starting at 7 starts at Sunday (0) instead.
func parseRange(s, tok string, k kind) (int, int, *fieldErr) {
	if s == "*" {
		return kinds[k].min, kinds[k].max, nil
	}
	hy := strings.IndexByte(s, '-')
	if hy < 0 {
		v, err := parseValue(s, tok, k)
		return v, v, err
	}
	lo, err := parseValue(s[:hy], tok, k)
	if err != nil {
		return 0, 0, err
	}
	hi, err := parseValue(s[hy+1:], tok, k)
	if err != nil {
		return 0, 0, err
	}
	if k == kDayOfWeek && lo == 7 {
		lo = 0
	}
	if lo > hi {
		return 0, 0, &fieldErr{tok, fmt.Sprintf("range %q is reversed", tok)}
	}
	return lo, hi, nil
}

// parseValue parses one number and checks it against the field's range.
func parseValue(s, tok string, k kind) (int, *fieldErr) {
	v, ok := parseInt(s)
	if !ok {
		return 0, &fieldErr{tok, badValue(s, tok, k)}
	}
	lo, hi := kinds[k].min, kinds[k].max
	if k == kDayOfWeek {
		lo = 0 // Sunday may be written as 0 or 7
	}
	if v < lo || v > hi {
		return 0, &fieldErr{tok, outOfRange(v, lo, hi, tok)}
	}
	return v, nil
}

func outOfRange(v, lo, hi int, tok string) string {
	msg := fmt.Sprintf("%d out of range %d-%d", v, lo, hi)
	if tok != fmt.Sprint(v) {
		msg += fmt.Sprintf(" in %q", tok)
	}
	return msg
}

// badValue explains why s is not a number, pointing out special characters
// used in a field that does not support them.
func badValue(s, tok string, k kind) string {
	switch {
	case strings.Contains(s, "?") && k != kDayOfMonth && k != kDayOfWeek:
		return fmt.Sprintf(`"?" in %q is only allowed in the day-of-month and day-of-week fields`, tok)
	case strings.Contains(s, "?"):
		return fmt.Sprintf(`"?" in %q must be the only value in the field`, tok)
	case strings.Contains(s, "L") && k != kDayOfMonth && k != kDayOfWeek:
		return fmt.Sprintf(`"L" in %q is only allowed in the day-of-month and day-of-week fields`, tok)
	case strings.Contains(s, "W") && k != kDayOfMonth:
		return fmt.Sprintf(`"W" in %q is only allowed in the day-of-month field`, tok)
	case strings.Contains(s, "#") && k != kDayOfWeek:
		return fmt.Sprintf(`"#" in %q is only allowed in the day-of-week field`, tok)
	case s == "":
		return fmt.Sprintf("missing number in %q", tok)
	}
	if s == tok || !strings.Contains(tok, s) {
		// the whole token, or a token whose names were replaced by numbers
		return fmt.Sprintf("invalid value %q", tok)
	}
	return fmt.Sprintf("invalid value %q in %q", s, tok)
}

// parseQuartzDayOfMonth parses "L", "L-n", "LW" or "nW".
func parseQuartzDayOfMonth(el, tok string) (field, *fieldErr) {
	if idx := strings.LastIndexByte(el, 'L'); idx >= 0 {
		switch {
		case idx != 0:
			return nil, &fieldErr{tok, fmt.Sprintf(`unexpected characters before "L" in %q`, tok)}
		case el == "LW":
			return quartzField{kind: kDayOfMonth, mode: lastWeekday}, nil
		case el == "L":
			return quartzField{kind: kDayOfMonth, mode: lastDay}, nil
		}
		off, ok := parseInt(el[1:])
		if !ok {
			return nil, &fieldErr{tok, fmt.Sprintf(`invalid offset in %q, want "L-n"`, tok)}
		}
		if off >= 0 {
			return nil, &fieldErr{tok, fmt.Sprintf(`offset in %q must be negative, want "L-n"`, tok)}
		}
		return quartzField{kind: kDayOfMonth, mode: lastDayOffset, n: off}, nil
	}
	idx := strings.LastIndexByte(el, 'W')
	switch {
	case idx == 0:
		return nil, &fieldErr{tok, fmt.Sprintf(`no day of month before "W" in %q`, tok)}
	case idx != len(el)-1:
		return nil, &fieldErr{tok, fmt.Sprintf(`unexpected characters after "W" in %q`, tok)}
	}
	d, err := parseValue(el[:idx], tok, kDayOfMonth)
	if err != nil {
		return nil, err
	}
	return quartzField{kind: kDayOfMonth, mode: nearestWeekday, n: d}, nil
}

// parseQuartzDayOfWeek parses "dL" or "d#n", with names already replaced
// by numbers.
func parseQuartzDayOfWeek(el, tok string) (field, *fieldErr) {
	if idx := strings.LastIndexByte(el, 'L'); idx >= 0 {
		switch {
		case idx != len(el)-1:
			return nil, &fieldErr{tok, fmt.Sprintf(`unexpected characters after "L" in %q`, tok)}
		case idx == 0:
			return nil, &fieldErr{tok, fmt.Sprintf(`no day of week before "L" in %q`, tok)}
		}
		dow, err := parseWeekday(el[:idx], tok)
		if err != nil {
			return nil, err
		}
		return quartzField{kind: kDayOfWeek, mode: lastInMonth, dow: dow}, nil
	}
	idx := strings.LastIndexByte(el, '#')
	switch {
	case idx == 0:
		return nil, &fieldErr{tok, fmt.Sprintf(`no day of week before "#" in %q`, tok)}
	case idx == len(el)-1:
		return nil, &fieldErr{tok, fmt.Sprintf(`no ordinal after "#" in %q`, tok)}
	}
	dow, err := parseWeekday(el[:idx], tok)
	if err != nil {
		return nil, err
	}
	n, ok := parseInt(el[idx+1:])
	if !ok {
		return nil, &fieldErr{tok, fmt.Sprintf(`invalid ordinal in %q`, tok)}
	}
	if n <= 0 {
		return nil, &fieldErr{tok, fmt.Sprintf(`ordinal in %q must be positive`, tok)}
	}
	return quartzField{kind: kDayOfWeek, mode: nthInMonth, n: n, dow: dow}, nil
}

// parseWeekday parses the day before "L" or "#": 0-7, both 0 and 7 being
// Sunday. The result is 1 (Monday) to 7 (Sunday).
func parseWeekday(s, tok string) (int, *fieldErr) {
	v, ok := parseInt(s)
	if !ok {
		return 0, &fieldErr{tok, badValue(s, tok, kDayOfWeek)}
	}
	if v < 0 || v > 7 {
		return 0, &fieldErr{tok, outOfRange(v, 0, 7, tok)}
	}
	if v == 0 {
		v = 7
	}
	return v, nil
}

// parseInt accepts what Java's Integer.parseInt accepts: an optional sign
// and decimal digits of any script in the Basic Multilingual Plane, within
// the 32-bit range.
func parseInt(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	limit := int64(math.MaxInt32)
	if neg {
		limit++
	}
	var n int64
	for _, r := range s {
		d := digitValue(r)
		if d < 0 {
			return 0, false
		}
		n = n*10 + int64(d)
		if n > limit {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return int(n), true
}

// digitValue returns the value of a decimal digit, or -1. Unicode encodes
// each script's decimal digits as a run of ten code points starting at
// zero.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	if r < 0x80 || r > 0xFFFF || !unicode.IsDigit(r) {
		return -1
	}
	n := 0
	for p := r - 1; unicode.IsDigit(p); p-- {
		n++
	}
	return n % 10
}
