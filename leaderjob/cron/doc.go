// Package cron implements the cron dialect of Spring Framework's
// org.springframework.scheduling.support.CronExpression (Spring 5.3 and
// later), the one behind @Scheduled(cron = ...), so that a schedule
// written for a Spring application fires at exactly the same instants
// here.
//
// # Syntax
//
// An expression has six fields separated by spaces:
//
//	second (0-59) minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC) day-of-week (0-7 or MON-SUN, 0 and 7 are Sunday)
//
// A field is "*" or a comma-separated list of values "5", ranges "1-5" and
// steps "*/15", "10/15" (from 10 to the field maximum) or "10-40/10".
// Names are three letters in any case and may appear in ranges; a range
// in the day-of-week field that starts at Sunday (7 or SUN) starts at 0.
// "?" stands for "*" in the day fields. Ranges must not be reversed and
// steps must be at least 1.
//
// The day-of-month field also takes "L" (last day), "L-n" (n-th day before
// the last), "LW" (last weekday) and "nW" (weekday nearest to day n; "1W"
// on a Saturday means Monday the 3rd). The day-of-week field also takes
// "dL" (last weekday d of the month, e.g. "5L" or "FRIL") and "d#n" (n-th
// weekday d, e.g. "FRI#2"). These may be mixed with plain values in a
// list, such as "1W,15,LW".
//
// When both day fields are restricted, a day must match both: "0 0 0 13 *
// FRI" fires on Friday the 13th only. (Unix cron would fire on every 13th
// and every Friday.)
//
// The macros @yearly and @annually ("0 0 0 1 1 *"), @monthly ("0 0 0 1 *
// *"), @weekly ("0 0 0 * * 0"), @daily and @midnight ("0 0 0 * * *") and
// @hourly ("0 0 * * * *") are accepted in any case.
//
// Parse rejects what Spring rejects and accepts what Spring accepts,
// including its oddities: "+5" is a number, as are digits of other
// scripts; "7-7" in the day-of-week field means every day; "5#6" parses
// but never fires. "-", Spring's marker for a disabled job, is reported
// with an error wrapping ErrDisabled.
//
// # Evaluation and daylight saving time
//
// Next evaluates an expression in the Location of the time it is given,
// using Spring's own search: the fields are matched from the day of week
// down to the second, each moving the time forward to its next match, and
// the pass is repeated until no field moves. Moving by hours, minutes and
// seconds follows the clock's instants; moving by days and months keeps
// the wall clock. Around daylight-saving transitions this gives Spring's
// results, which are:
//
//   - Spring forward: a wall time that does not exist on that day is
//     skipped for that day; "0 30 2 * * *" in Europe/Berlin does not fire
//     on 2021-03-28 and fires next at 02:30 on 2021-03-29. Other times of
//     that day fire as usual, also when midnight itself is skipped, as in
//     America/Sao_Paulo on 2018-11-04, and a gap never costs the next
//     day: "0 0 0,2 * * *" in America/New_York fires at 00:00 on
//     2026-03-08, has no 02:00 that day and fires next at 00:00 on
//     2026-03-09. This is the rule of Spring Framework 6.2.19 and 7.0.8
//     (gh-36865). Earlier Spring versions skip a whole day in such cases,
//     to 2026-03-10 in this example.
//   - Fall back: a wall time inside a repeated hour fires twice, at both
//     offsets; "0 30 2 * * *" in Europe/Berlin fires at 02:30+02:00 and
//     again at 02:30+01:00 on 2021-10-31. An overlap shorter than an hour,
//     such as Australia/Lord_Howe's half hour, is stepped over and fires
//     once.
//
// The search is bounded like Spring's (366 passes, and 366 steps within a
// field), so an expression that never fires, such as "0 0 0 31 6 *",
// makes Next return the zero time, where Spring returns null.
//
// # Differences from Spring
//
// String returns the expression as given; Spring's toString returns the
// expansion of a macro. Parse("-") fails with ErrDisabled, since this
// package has no disabled schedule to return.
//
// With an "L-n" offset that reaches back into an earlier month (n of 28 or
// more, e.g. "L-70"), or a "#n" ordinal so large that java.time's 32-bit
// day offset wraps, Spring's search can end at or before the start time
// and Spring returns that past time; Next returns the zero time instead,
// so that it never returns a time that is not after its argument. Where
// Spring would throw because a date leaves java.time's range (years beyond
// plus or minus 999,999,999), Next returns the zero time as well.
//
// # Libraries considered
//
// No Go library implements these semantics, so this package does, with the
// standard library only. github.com/robfig/cron/v3 (used inside gocron)
// ORs the day fields when both are restricted and has no L, W or #.
// github.com/netresearch/go-cron, a maintained fork of it, ANDs the day
// fields by default and has "nW" and "#" forms, but runs a time that falls
// into a spring-forward gap right after the gap instead of skipping it
// and de-duplicates fall-back repeats in its scheduler; it is a scheduler
// with its own dialect, not a Spring-compatible parser.
// github.com/gorhill/cronexpr, and the copy inside aptible/supercronic,
// have L, W and # but OR the day fields, add a year field and are
// unmaintained. github.com/adhocore/gronx ORs the day fields unless one of
// them starts with "*" and has no "LW". None reproduces Spring's handling
// of daylight-saving transitions.
package cron
