package cron

import "time"

// This file models the small part of java.time that Spring's algorithm
// relies on: a wall-clock reading bound to a zone offset (ZonedDateTime),
// changed either through its wall clock ("with" a field, or adding days,
// weeks, months or years) or through its instant (adding hours and smaller
// units). The distinction matters only around daylight-saving transitions,
// and that is exactly where Spring's results have to be reproduced.

// wall is a calendar date and clock reading that belongs to no zone.
type wall struct {
	year, month, day     int
	hour, min, sec, nsec int
}

// zoned is a wall clock reading together with the UTC offset in force for
// it, which pins it to one instant.
type zoned struct {
	w    wall
	off  int   // seconds east of UTC
	unix int64 // whole seconds of the instant since 1970-01-01T00:00Z
	loc  *time.Location
}

// unit names the amounts that can be added to a zoned value.
type unit uint8

const (
	nanos unit = iota
	seconds
	minutes
	hours
	days
	weeks
	months
	years
)

// Java's LocalDate cannot represent years beyond this bound; Spring fails
// with an exception there, and this package reports "no fire time".
const maxYear = 999_999_999

func (z zoned) time() time.Time { return time.Unix(z.unix, int64(z.w.nsec)).In(z.loc) }

// before reports whether z is an earlier instant than o.
func (z zoned) before(o zoned) bool {
	return z.unix < o.unix || (z.unix == o.unix && z.w.nsec < o.w.nsec)
}

func (z zoned) sameInstant(o zoned) bool { return z.unix == o.unix && z.w.nsec == o.w.nsec }

func (z zoned) inRange() bool { return z.w.year >= -maxYear && z.w.year <= maxYear }

// isoWeekday returns 1 for Monday through 7 for Sunday.
func (z zoned) isoWeekday() int {
	return int(floorMod(daysFromCivil(z.w.year, z.w.month, z.w.day)+3, 7)) + 1
}

func (z zoned) monthLength() int { return daysIn(z.w.year, z.w.month) }

// fromTime converts a Go time to the model, keeping its location.
func fromTime(t time.Time) zoned {
	return fromInstant(t.Unix(), t.Nanosecond(), t.Location())
}

// fromInstant builds the zoned value for an instant.
func fromInstant(unix int64, nsec int, loc *time.Location) zoned {
	off := offsetAt(loc, unix)
	local := unix + int64(off)
	d := floorDiv(local, 86400)
	sod := int(local - d*86400)
	y, m, dd := civilFromDays(d)
	return zoned{
		w:    wall{year: y, month: m, day: dd, hour: sod / 3600, min: sod / 60 % 60, sec: sod % 60, nsec: nsec},
		off:  off,
		unix: unix,
		loc:  loc,
	}
}

func offsetAt(loc *time.Location, unix int64) int {
	_, off := time.Unix(unix, 0).In(loc).Zone()
	return off
}

// wallSeconds counts the seconds of w since 1970-01-01T00:00 as if there
// were no zones at all.
func wallSeconds(w wall) int64 {
	return daysFromCivil(w.year, w.month, w.day)*86400 + int64(w.hour*3600+w.min*60+w.sec)
}

// resolve pins a wall clock reading in loc, following the rules of
// ZonedDateTime.ofLocal with a preferred offset: keep the preferred offset
// if it is valid for the reading; in an overlap otherwise take the offset
// in force before the transition (the earlier instant); in a gap move the
// reading forward by the length of the gap.
func resolve(w wall, pref int, loc *time.Location) zoned {
	local := wallSeconds(w)
	if offsetAt(loc, local-int64(pref)) == pref {
		return zoned{w: w, off: pref, unix: local - int64(pref), loc: loc}
	}
	// Walk the zone periods around the reading. No offset is larger than
	// 18 hours, so every instant that can show this reading is inside the
	// window.
	const span = 26 * 3600
	best, found := int64(0), false
	gapUnix, gap := int64(0), false
	t := time.Unix(local-span, 0).In(loc)
	for range 8 {
		_, off := t.Zone()
		start, end := t.ZoneBounds()
		inst := local - int64(off)
		if (start.IsZero() || inst >= start.Unix()) && (end.IsZero() || inst < end.Unix()) {
			if !found || inst < best {
				best, found = inst, true
			}
		}
		if end.IsZero() || end.Unix() > local+span {
			break
		}
		next := end.In(loc)
		_, noff := next.Zone()
		if tr := end.Unix(); noff > off && tr+int64(off) <= local && local < tr+int64(noff) {
			gapUnix, gap = local-int64(off), true
		}
		t = next
	}
	switch {
	case found:
		return fromInstant(best, w.nsec, loc)
	case gap:
		return fromInstant(gapUnix, w.nsec, loc)
	default:
		// Not reachable with consistent zone data; fall back to Go's choice.
		t := time.Date(w.year, time.Month(w.month), w.day, w.hour, w.min, w.sec, w.nsec, loc)
		return fromTime(t)
	}
}

// withWall replaces the wall clock reading, keeping the offset if possible.
func (z zoned) withWall(w wall) zoned { return resolve(w, z.off, z.loc) }

// with sets one field of the wall clock, like ZonedDateTime.with. The value
// must be valid for the field (Spring never asks for an invalid day).
func (z zoned) with(k kind, v int) zoned {
	w := z.w
	switch k {
	case kNano:
		w.nsec = v
	case kSecond:
		w.sec = v
	case kMinute:
		w.min = v
	case kHour:
		w.hour = v
	case kDayOfMonth:
		w.day = v
	case kMonth:
		w.month = v
		w.day = min(w.day, daysIn(w.year, v))
	case kDayOfWeek:
		return z.plus(days, int64(v-z.isoWeekday()))
	}
	return z.withWall(w)
}

// atMidnight sets the clock to 00:00 in a single step, like
// with(NANO_OF_DAY, 0).
func (z zoned) atMidnight() zoned {
	w := z.w
	w.hour, w.min, w.sec, w.nsec = 0, 0, 0, 0
	return z.withWall(w)
}

// plus adds n units. Units up to hours move the instant; days and larger
// move the wall clock and keep the offset where possible.
func (z zoned) plus(u unit, n int64) zoned {
	switch u {
	case nanos:
		total := int64(z.w.nsec) + n
		return fromInstant(z.unix+floorDiv(total, 1e9), int(floorMod(total, 1e9)), z.loc)
	case seconds:
		return fromInstant(z.unix+n, z.w.nsec, z.loc)
	case minutes:
		return fromInstant(z.unix+n*60, z.w.nsec, z.loc)
	case hours:
		return fromInstant(z.unix+n*3600, z.w.nsec, z.loc)
	case weeks:
		n *= 7
		fallthrough
	case days:
		w := z.w
		w.year, w.month, w.day = civilFromDays(daysFromCivil(w.year, w.month, w.day) + n)
		return z.withWall(w)
	case years:
		n *= 12
		fallthrough
	default: // months
		w := z.w
		mc := int64(w.year)*12 + int64(w.month-1) + n
		w.year, w.month = int(floorDiv(mc, 12)), int(floorMod(mc, 12))+1
		w.day = min(w.day, daysIn(w.year, w.month))
		return z.withWall(w)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil counts days from 1970-01-01 to the given proleptic
// Gregorian date.
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (int, int, int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := int(doy - (153*mp+2)/5 + 1)
	m := int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return int(y), m, d
}
