package cron

import "unicode"

// macros are Spring's shorthands and the expressions they stand for.
var macros = [...]struct{ name, expr string }{
	{"@yearly", "0 0 0 1 1 *"},
	{"@annually", "0 0 0 1 1 *"},
	{"@monthly", "0 0 0 1 * *"},
	{"@weekly", "0 0 0 * * 0"},
	{"@daily", "0 0 0 * * *"},
	{"@midnight", "0 0 0 * * *"},
	{"@hourly", "0 0 * * * *"},
}

// expandMacro returns the expression a macro stands for, or s itself.
// Macro names are matched without regard to case.
func expandMacro(s string) string {
	for _, m := range macros {
		if equalFold(s, m.name) {
			return m.expr
		}
	}
	return s
}

// equalFold compares like Java's String.equalsIgnoreCase: two characters
// match if they are equal after upper-casing, or after upper-casing and
// then lower-casing (so the Kelvin sign matches "k" and a dotless "ı"
// matches "i").
func equalFold(s, t string) bool {
	a, b := []rune(s), []rune(t)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		ua, ub := unicode.ToUpper(a[i]), unicode.ToUpper(b[i])
		if ua != ub && unicode.ToLower(ua) != unicode.ToLower(ub) {
			return false
		}
	}
	return true
}
