package cron

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is wrapped by every error Parse returns for an expression
	// that Spring would reject.
	ErrInvalid = errors.New("invalid cron expression")

	// ErrDisabled is wrapped by the error Parse returns for "-", Spring's
	// marker (Scheduled.CRON_DISABLED) for a job that must not be
	// scheduled. Callers are expected to check for it before treating the
	// error as a configuration mistake.
	ErrDisabled = errors.New(`cron expression "-" disables the schedule`)
)

// ParseError describes why an expression was rejected.
type ParseError struct {
	Expr   string // the expression as passed to Parse
	Field  string // "second", "minute", "hour", "day-of-month", "month" or "day-of-week"; empty if the problem is not within one field
	Token  string // the offending field or list element, as written; empty if the problem is not within one field
	Reason string // what is wrong
	Err    error  // ErrInvalid or ErrDisabled
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cron %q: %s", e.Expr, e.Reason)
	}
	return fmt.Sprintf("cron %q: %s field: %s", e.Expr, e.Field, e.Reason)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Expression is a parsed cron expression. It is immutable and safe for
// concurrent use.
type Expression struct {
	expr string
	// fields in evaluation order: day of week, month, day of month, hour,
	// minute, second, and the hidden nanosecond field.
	fields [7]field
}

// String returns the expression as it was passed to Parse.
func (e *Expression) String() string {
	if e == nil {
		return "<nil>"
	}
	return e.expr
}

// Parse parses a Spring CronExpression: six fields separated by spaces
// (second, minute, hour, day of month, month, day of week) or one of the
// macros @yearly, @annually, @monthly, @weekly, @daily, @midnight and
// @hourly. Parse accepts exactly what Spring's CronExpression.parse
// accepts; see the package documentation for the syntax.
func Parse(expr string) (*Expression, error) {
	invalid := func(reason string) error {
		return &ParseError{Expr: expr, Reason: reason, Err: ErrInvalid}
	}
	switch expr {
	case "-":
		return nil, &ParseError{Expr: expr, Reason: `"-" marks a disabled schedule, which never fires`, Err: ErrDisabled}
	case "":
		return nil, invalid("empty expression")
	}
	parts := tokenize(expandMacro(javaTrim(expr)))
	if len(parts) != 6 {
		return nil, invalid(fmt.Sprintf("expected 6 fields (second minute hour day-of-month month day-of-week), found %d", len(parts)))
	}
	parsers := [6]struct {
		k     kind
		parse func(string) (field, *fieldErr)
	}{
		{kSecond, plainParser(kSecond)},
		{kMinute, plainParser(kMinute)},
		{kHour, plainParser(kHour)},
		{kDayOfMonth, parseDayOfMonth},
		{kMonth, parseMonth},
		{kDayOfWeek, parseDayOfWeek},
	}
	var parsed [6]field
	for i, p := range parsers {
		f, err := p.parse(parts[i])
		if err != nil {
			return nil, &ParseError{Expr: expr, Field: kinds[p.k].name, Token: err.token, Reason: err.reason, Err: ErrInvalid}
		}
		parsed[i] = f
	}
	return &Expression{
		expr:   expr,
		fields: [7]field{parsed[5], parsed[4], parsed[3], parsed[2], parsed[1], parsed[0], zeroNanos},
	}, nil
}

func plainParser(k kind) func(string) (field, *fieldErr) {
	return func(v string) (field, *fieldErr) { return parsePlain(v, v, k) }
}

// tokenize splits at single spaces, trims every part like Java's
// String.trim and drops empty parts, so runs of spaces separate fields
// but a tab between two values does not.
func tokenize(s string) []string {
	var out []string
	for _, p := range strings.Split(s, " ") {
		if p = javaTrim(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// javaTrim removes leading and trailing characters up to U+0020, as Java's
// String.trim does.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
