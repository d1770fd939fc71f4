package cron

import "time"

// maxAttempts bounds every search loop, as in Spring: 366 passes of the
// outer loop, 366 steps inside one field and 366 steps when looking for
// the day of an "nW".
const maxAttempts = 366

// Next returns the first fire time strictly after from, evaluated in the
// Location of from. It returns the zero time when no fire time can be found
// within Spring's search bounds, as for "0 0 0 31 6 *" (Spring returns null).
func (e *Expression) Next(from time.Time) time.Time {
	t, ok := e.search(from)
	if !ok || !t.After(from) {
		// Spring's search can settle on a time that is not after from when
		// an "L-n" offset reaches back into an earlier month ("L-70") or a
		// huge "#n" wraps around; Spring returns that time, Next reports
		// that there is none.
		return time.Time{}
	}
	return t
}

// search runs Spring's algorithm: starting 1ns after from, it repeats step
// until no field moves the time any more.
func (e *Expression) search(from time.Time) (time.Time, bool) {
	if e == nil {
		return time.Time{}, false
	}
	z := fromTime(from)
	if !z.inRange() {
		return time.Time{}, false
	}
	z = z.plus(nanos, 1)
	for range maxAttempts {
		r, ok := e.step(z)
		if !ok || !r.inRange() {
			return time.Time{}, false
		}
		if r.sameInstant(z) {
			return r.time(), true
		}
		z = r
	}
	return time.Time{}, false
}

// step lets every field, largest first, move z to its next match.
// The result matches the expression only if no field had to move; Next
// repeats until that happens.
func (e *Expression) step(z zoned) (zoned, bool) {
	for i := range e.fields {
		var ok bool
		if z, ok = e.fields[i].nextOrSame(z); !ok {
			return zoned{}, false
		}
	}
	return z, true
}

// get reads the field of kind k from z.
func get(k kind, z zoned) int {
	switch k {
	case kNano:
		return z.w.nsec
	case kSecond:
		return z.w.sec
	case kMinute:
		return z.w.min
	case kHour:
		return z.w.hour
	case kDayOfMonth:
		return z.w.day
	case kMonth:
		return z.w.month
	default:
		return z.isoWeekday()
	}
}

// bounds is the range of field k for the month z is in.
func bounds(k kind, z zoned) (lo, hi int) {
	if k == kDayOfMonth {
		return 1, z.monthLength()
	}
	return kinds[k].min, kinds[k].max
}

// elapseUntil moves z forward until field k reads goal, typically with one
// step. If goal does not exist in the current period (the 30th in
// February), it moves to the start of the next period instead and leaves
// the rest to the caller.
func elapseUntil(k kind, z zoned, goal int) zoned {
	cur := get(k, z)
	lo, hi := bounds(k, z)
	if cur < goal {
		if goal >= lo && goal <= hi {
			return z.with(k, goal)
		}
		return z.plus(kinds[k].unit, int64(hi-cur+1))
	}
	return z.plus(kinds[k].unit, int64(goal+hi-cur+1-lo))
}

// rollForward moves z to the start of the next period of field k: the next
// minute for seconds, the next month for days of the month, and so on.
func rollForward(k kind, z zoned) zoned {
	r := z.plus(kinds[k].higher, 1)
	lo, _ := bounds(k, r)
	return r.with(k, lo)
}

// reset sets every field below k to its minimum, one field at a time.
func reset(k kind, z zoned) zoned {
	if k == kNano {
		return z
	}
	top := k - 1
	if k == kDayOfWeek {
		top = kHour
	}
	for f := top; f > kNano; f-- {
		lo, _ := bounds(f, z)
		z = z.with(f, lo)
	}
	return z.with(kNano, 0)
}

// nextOrSame for a set of plain values.
func (f bitsField) nextOrSame(z zoned) (zoned, bool) {
	k := f.kind
	cur := get(k, z)
	next := f.nextSetBit(cur)
	if next < 0 {
		z, next = f.afterRoll(z)
	}
	if next == cur {
		return z, true
	}
	count := 0
	cur = get(k, z)
	for cur != next {
		count++
		if count > maxAttempts {
			break
		}
		z = elapseUntil(k, z, next)
		cur = get(k, z)
		next = f.nextSetBit(cur)
		if next < 0 {
			z, next = f.afterRoll(z)
			// The period changed: compare against the value z now reads,
			// not the one from before the roll, or the loop could stop
			// early or run a whole period too far.
			cur = get(k, z)
		}
	}
	if count >= maxAttempts {
		return zoned{}, false
	}
	return reset(k, z), true
}

// afterRoll moves z to the start of the next period of the field (the
// next day for hours, and so on) and picks the value to look for there.
// That period normally starts at the field's minimum, but a
// daylight-saving gap can swallow its start (Africa/Cairo skips from 00:00
// to 01:00), so the search starts at the value z actually reads. When no
// value at or after that one is set, the period has nothing left to offer
// and z rolls on to the start of the period after it.
func (f bitsField) afterRoll(z zoned) (zoned, int) {
	z = rollForward(f.kind, z)
	if n := f.nextSetBit(get(f.kind, z)); n >= 0 {
		return z, n
	}
	return rollForward(f.kind, z), f.nextSetBit(0)
}

// nextSetBit returns the lowest set bit at or above from, or -1. Like a
// Java long shift, the shift distance is taken modulo 64.
func (f bitsField) nextSetBit(from int) int {
	b := f.bits & (^uint64(0) << (uint(from) & 63))
	if b == 0 {
		return -1
	}
	return trailingZeros(b)
}

// nextOrSame for an "L", "W" or "#" element.
func (f quartzField) nextOrSame(z zoned) (zoned, bool) {
	r, ok := f.adjust(z)
	if ok && r.before(z) {
		// The match in this month has passed: try next month.
		r, ok = f.adjust(rollForward(kDayOfMonth, z))
		if ok {
			r = reset(f.kind, r)
		}
	}
	return r, ok
}

// nextOrSame for a list mixing "L", "W" or "#" elements with plain ones: the
// earliest result of any element.
func (f compositeField) nextOrSame(z zoned) (zoned, bool) {
	var best zoned
	found := false
	for _, p := range f.parts {
		if r, ok := p.nextOrSame(z); ok && (!found || r.before(best)) {
			best, found = r, true
		}
	}
	return best, found
}

// adjust finds the day this element stands for in the month of z (or the
// month it leads to). On the same day as z it keeps z's clock; on another
// day it returns midnight.
func (f quartzField) adjust(z zoned) (zoned, bool) {
	switch f.mode {
	case lastDay:
		return keepOrMidnight(z, z.with(kDayOfMonth, z.monthLength())), true
	case lastDayOffset:
		return keepOrMidnight(z, z.with(kDayOfMonth, z.monthLength()).plus(days, int64(f.n))), true
	case lastWeekday:
		r := z.with(kDayOfMonth, z.monthLength())
		switch r.isoWeekday() {
		case 6:
			r = r.plus(days, -1)
		case 7:
			r = r.plus(days, -2)
		}
		return keepOrMidnight(z, r), true
	case nearestWeekday:
		return nearestWeekdayTo(z, f.n)
	case lastInMonth:
		r := z.with(kDayOfMonth, z.monthLength())
		diff := f.dow - r.isoWeekday()
		if diff > 0 {
			diff -= 7
		}
		return keepOrMidnight(z, r.plus(days, int64(diff))), true
	default: // nthInMonth
		// The n-th weekday can fall into the following month (a fifth
		// Monday that does not exist); then try again from there.
		for range 12 {
			r := z.with(kDayOfMonth, 1)
			diff := (f.dow - r.isoWeekday() + 7) % 7
			// java.time sums this in a 32-bit int, which wraps for huge n.
			r = r.plus(days, int64(int32(int64(diff)+int64(f.n-1)*7)))
			if r.w.month == z.w.month {
				return keepOrMidnight(z, r), true
			}
			z = r
		}
		return zoned{}, false
	}
}

// keepOrMidnight returns cur when r is on the same day of the month (so the
// search never moves backwards within a day), otherwise r at midnight.
func keepOrMidnight(cur, r zoned) zoned {
	if r.w.day == cur.w.day {
		return cur
	}
	return r.atMidnight()
}

// nearestWeekdayTo implements "nW": day n if it is a weekday, the Friday
// before if it is a Saturday, the Monday after if it is a Sunday, and
// Monday the 3rd for "1W" when the 1st is a Saturday.
func nearestWeekdayTo(z zoned, n int) (zoned, bool) {
	cur, dow := z.w.day, z.isoWeekday()
	if (cur == n && dow < 6) ||
		(dow == 5 && cur == n-1) ||
		(dow == 1 && cur == n+1) ||
		(dow == 1 && n == 1 && cur == 3) {
		return z, true
	}
	for range maxAttempts {
		if cur == n {
			switch z.isoWeekday() {
			case 6:
				if n != 1 {
					z = z.plus(days, -1)
				} else {
					z = z.plus(days, 2)
				}
			case 7:
				z = z.plus(days, 1)
			}
			return z.atMidnight(), true
		}
		z = elapseUntil(kDayOfMonth, z, n)
		cur = z.w.day
	}
	return zoned{}, false
}
