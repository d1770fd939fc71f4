package cron

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readLines returns the non-blank, non-comment lines of a testdata file,
// with their line numbers, keeping leading spaces.
func readLines(t *testing.T, name string) (lines []string, nums []int) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "cron", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines, nums = append(lines, l), append(nums, n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) == 0 {
		t.Fatalf("%s: no lines", name)
	}
	return lines, nums
}

func TestParseRejects(t *testing.T) {
	lines, nums := readLines(t, "invalid.txt")
	for i, l := range lines {
		expr, frag, ok := strings.Cut(l, "|")
		if !ok {
			t.Fatalf("invalid.txt:%d: no |", nums[i])
		}
		expr, frag = strings.TrimSpace(expr), strings.TrimSpace(frag)
		e, err := Parse(expr)
		if err == nil {
			t.Errorf("invalid.txt:%d: Parse(%q) = %v, want error", nums[i], expr, e)
			continue
		}
		if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrDisabled) {
			t.Errorf("invalid.txt:%d: Parse(%q): error %v does not wrap ErrInvalid alone", nums[i], expr, err)
		}
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("invalid.txt:%d: Parse(%q) error\n\t%s\ndoes not contain\n\t%s", nums[i], expr, err, frag)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	lines, nums := readLines(t, "valid.txt")
	for i, expr := range lines {
		e, err := Parse(expr)
		if err != nil {
			t.Errorf("valid.txt:%d: Parse(%q): %v", nums[i], expr, err)
			continue
		}
		if e.String() != expr {
			t.Errorf("valid.txt:%d: String() = %q, want %q", nums[i], e.String(), expr)
		}
	}
}

func TestParseEquivalent(t *testing.T) {
	lines, nums := readLines(t, "equivalent.txt")
	for i, l := range lines {
		a, b, _ := strings.Cut(l, "|")
		ea, err := Parse(strings.TrimSpace(a))
		if err != nil {
			t.Fatalf("equivalent.txt:%d: %v", nums[i], err)
		}
		eb, err := Parse(strings.TrimSpace(b))
		if err != nil {
			t.Fatalf("equivalent.txt:%d: %v", nums[i], err)
		}
		if !reflect.DeepEqual(ea.fields, eb.fields) {
			t.Errorf("equivalent.txt:%d: %q and %q differ:\n\t%+v\n\t%+v", nums[i], a, b, ea.fields, eb.fields)
		}
	}
}

func TestParseSpecialInputs(t *testing.T) {
	tests := []struct {
		expr     string
		sentinel error // nil: must parse
		frag     string
	}{
		{"", ErrInvalid, `cron "": empty expression`},
		{" ", ErrInvalid, "found 0"},
		{"\t\n", ErrInvalid, "found 0"},
		{"-", ErrDisabled, `cron "-": "-" marks a disabled schedule`},
		{" - ", ErrInvalid, "found 1"}, // only the exact marker disables
		// a tab inside a token does not separate fields
		{"0\t0 0 * * * *", ErrInvalid, `second field: invalid value "0\t0"`},
		{"0\t0 0 * * *", ErrInvalid, "found 5"},
		// but tabs and other control characters around tokens are trimmed
		{"\t0 0 0 * * *\n", nil, ""},
		{"0 \t0 0 * * *", nil, ""},
		// digits of other scripts are numbers, as for Integer.parseInt
		{"٣ * * * * *", nil, ""},
		{"０ * * * * *", nil, ""},
		// but not digits outside the Basic Multilingual Plane
		{"𝟑 * * * * *", ErrInvalid, "second field: invalid value"},
		// macro names compare like String.equalsIgnoreCase
		{"@WEEKLY", nil, ""},
		{"@weeKly", nil, ""}, // Kelvin sign
		{"@daıly", nil, ""},  // dotless i
		{"@dailyx", ErrInvalid, "found 1"},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if tt.sentinel == nil {
			if err != nil {
				t.Errorf("Parse(%q): %v", tt.expr, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error", tt.expr, e)
			continue
		}
		if !errors.Is(err, tt.sentinel) {
			t.Errorf("Parse(%q): %v does not wrap %v", tt.expr, err, tt.sentinel)
		}
		if !strings.Contains(err.Error(), tt.frag) {
			t.Errorf("Parse(%q) error %q does not contain %q", tt.expr, err, tt.frag)
		}
	}
}

func TestParseErrorFields(t *testing.T) {
	_, err := Parse("0 0 0 1 * FRI#0,MON")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	want := ParseError{Expr: "0 0 0 1 * FRI#0,MON", Field: "day-of-week", Token: "FRI#0", Reason: `ordinal in "FRI#0" must be positive`, Err: ErrInvalid}
	if *pe != want {
		t.Errorf("got %+v\nwant %+v", *pe, want)
	}
	if got, w := pe.Error(), `cron "0 0 0 1 * FRI#0,MON": day-of-week field: ordinal in "FRI#0" must be positive`; got != w {
		t.Errorf("Error() = %q, want %q", got, w)
	}

	_, err = Parse("* * * * *")
	if !errors.As(err, &pe) || pe.Field != "" || pe.Token != "" {
		t.Errorf("field count error: %+v", pe)
	}
}

// Bit patterns from Spring's BitsCronFieldTests.
func TestParseBits(t *testing.T) {
	bitsOf := func(vs ...int) uint64 {
		var b uint64
		for _, v := range vs {
			b |= 1 << v
		}
		return b
	}
	span := func(lo, hi int) uint64 {
		var b uint64
		for v := lo; v <= hi; v++ {
			b |= 1 << v
		}
		return b
	}
	tests := []struct {
		k     kind
		value string
		want  uint64
	}{
		{kSecond, "42", bitsOf(42)},
		{kMinute, "1,2,5,9", bitsOf(1, 2, 5, 9)},
		{kSecond, "0-4,8-12", span(0, 4) | span(8, 12)},
		{kHour, "0-23/2", bitsOf(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22)},
		{kDayOfWeek, "0", bitsOf(7)},
		{kSecond, "57/2", bitsOf(57, 59)},
		{kSecond, "*", span(0, 59)},
		{kMinute, "*", span(0, 59)},
		{kHour, "*", span(0, 23)},
		{kDayOfMonth, "*", span(1, 31)},
		{kDayOfMonth, "?", span(1, 31)},
		{kMonth, "*", span(1, 12)},
		{kDayOfWeek, "*", span(1, 7)},
		{kDayOfWeek, "?", span(1, 7)},
		{kMonth, "JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC", span(1, 12)},
		{kDayOfWeek, "SUN,MON,TUE,WED,THU,FRI,SAT", span(1, 7)},
		{kDayOfMonth, "*/10", bitsOf(1, 11, 21, 31)},
		{kMonth, "1/3", bitsOf(1, 4, 7, 10)},
		{kMinute, "10-40/10", bitsOf(10, 20, 30, 40)},
		{kDayOfWeek, "0/2", bitsOf(2, 4, 6, 7)},
		{kDayOfWeek, "SUN-TUE", bitsOf(7, 1, 2)},
		// Spring's int loop wraps for steps close to 2^31
		{kSecond, "5/2147483647", bitsOf(0, 1, 2, 3, 4, 5, 63)},
		{kSecond, "0/2147483647", bitsOf(0)},
		{kMinute, "59/2147483600", bitsOf(59, 11, 27)},
	}
	for _, tt := range tests {
		var (
			f   field
			err *fieldErr
		)
		switch tt.k {
		case kMonth:
			f, err = parseMonth(tt.value)
		case kDayOfMonth:
			f, err = parseDayOfMonth(tt.value)
		case kDayOfWeek:
			f, err = parseDayOfWeek(tt.value)
		default:
			f, err = parsePlain(tt.value, tt.value, tt.k)
		}
		if err != nil {
			t.Errorf("%s %q: %v", kinds[tt.k].name, tt.value, err)
			continue
		}
		bf, ok := f.(bitsField)
		if !ok || bf.bits != tt.want || bf.kind != tt.k {
			t.Errorf("%s %q = %+v, want bits %b", kinds[tt.k].name, tt.value, f, tt.want)
		}
	}
}
