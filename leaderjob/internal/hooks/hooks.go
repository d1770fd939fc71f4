// Package hooks lets leaderjobtest reach App internals without widening the
// public API of package leaderjob.
package hooks

// PendingTimers is set by package leaderjob: the number of scheduler timers
// an idle App keeps, given which jobs have already had a run attempt.
var PendingTimers func(app any, fired func(job string) bool) int
