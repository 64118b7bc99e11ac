package domain

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Clock is a time of day on the clinic's wall clock, in minutes after
// local midnight; 1440 (24:00) may end a span.
type Clock int

// EndOfDay is 24:00, the latest a span may end.
const EndOfDay Clock = 24 * 60

// ParseClock reads "HH:MM" (00:00 to 24:00).
func ParseClock(s string) (Clock, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return Clock(h*60 + m), true
}

// String is "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Date is a day on the clinic's calendar.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "YYYY-MM-DD" (years 2000 to 2200).
func ParseDate(s string) (Date, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return Date{}, false
	}
	return DateOf(t), true
}

// DateOf is the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String is "YYYY-MM-DD".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// AddDays is the day n days after d.
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC))
}

// Compare is -1, 0 or +1 as d is before, on or after o.
func (d Date) Compare(o Date) int {
	return cmp.Or(cmp.Compare(d.Year, o.Year), cmp.Compare(d.Month, o.Month), cmp.Compare(d.Day, o.Day))
}

// Weekday is d's day of the week.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

// At is the instant the wall clock in zone shows c on d. A wall time that
// a daylight-saving change skips (02:30 on a spring-forward night) is the
// first instant after the gap; a wall time that happens twice (01:30 on a
// fall-back night) is its first occurrence.
func (d Date) At(c Clock, zone *time.Location) time.Time {
	h, m := int(c)/60, int(c)%60
	t := time.Date(d.Year, d.Month, d.Day, h, m, 0, 0, zone)
	want := time.Date(d.Year, d.Month, d.Day, h, m, 0, 0, time.UTC)
	y, mo, dd := t.Date()
	got := time.Date(y, mo, dd, t.Hour(), t.Minute(), 0, 0, time.UTC)
	switch {
	case got.Equal(want):
		return t
	case got.Before(want): // placed before the gap: the gap ends where t's zone period does
		if _, end := t.ZoneBounds(); !end.IsZero() {
			return end
		}
	default: // placed after the gap: it starts where t's zone period does
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			return start
		}
	}
	return t
}

var weekdays = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// ParseWeekday reads a weekday's English name ("monday"), in any case.
func ParseWeekday(s string) (time.Weekday, bool) {
	i := slices.Index(weekdays[:], strings.ToLower(s))
	return time.Weekday(i), i >= 0
}

// WeekdayName is the lower-case English name of w.
func WeekdayName(w time.Weekday) string { return weekdays[w] }

// Span is a stretch of a day, [Start, End), at a location or (LocationID
// empty) at none in particular.
type Span struct {
	Start, End Clock
	LocationID string
}

// WeeklySpan is a span on every given weekday.
type WeeklySpan struct {
	Weekday time.Weekday
	Span
}

// Exception replaces the weekly pattern on one date: closed, or open for
// its span (a date may have several span exceptions).
type Exception struct {
	Date   Date
	Closed bool
	Span
}

// Availability is when a practitioner sees patients, on the clinic's wall
// clock: a weekly pattern, and dates whose exceptions replace it.
type Availability struct {
	PractitionerID string
	Weekly         []WeeklySpan
	Exceptions     []Exception
}

// Bounds of one practitioner's availability.
const (
	MaxWeeklySpans = 100
	MaxExceptions  = 1000
)

// Validate lists what is wrong with a: spans must start before they end,
// within the day, and not overlap another of the same day; a closed date
// has no other exception.
func (a Availability) Validate() []Invalid {
	var out []Invalid
	if len(a.Weekly) > MaxWeeklySpans {
		out = append(out, Invalid{"weekly", fmt.Sprintf("must hold at most %d spans", MaxWeeklySpans)})
	}
	if len(a.Exceptions) > MaxExceptions {
		out = append(out, Invalid{"exceptions", fmt.Sprintf("must hold at most %d entries", MaxExceptions)})
	}
	if len(out) > 0 {
		return out
	}
	byDay := map[time.Weekday][]indexed{}
	for i, w := range a.Weekly {
		if inv := w.check(fmt.Sprintf("weekly[%d]", i)); inv != nil {
			out = append(out, *inv)
			continue
		}
		if w.Weekday < time.Sunday || w.Weekday > time.Saturday {
			out = append(out, Invalid{fmt.Sprintf("weekly[%d].weekday", i), "must be a weekday name such as monday"})
			continue
		}
		byDay[w.Weekday] = append(byDay[w.Weekday], indexed{i, w.Span})
	}
	for _, day := range weekdayOrder(byDay) {
		out = append(out, overlaps("weekly", byDay[day])...)
	}
	byDate := map[Date][]indexed{}
	closed := map[Date]bool{}
	for i, e := range a.Exceptions {
		if e.Date.Year == 0 {
			out = append(out, Invalid{fmt.Sprintf("exceptions[%d].date", i), "must be a date YYYY-MM-DD"})
			continue
		}
		if e.Closed {
			if closed[e.Date] || len(byDate[e.Date]) > 0 {
				out = append(out, Invalid{fmt.Sprintf("exceptions[%d]", i), "a closed date has no other entry"})
			}
			closed[e.Date] = true
			continue
		}
		if inv := e.check(fmt.Sprintf("exceptions[%d]", i)); inv != nil {
			out = append(out, *inv)
			continue
		}
		if closed[e.Date] {
			out = append(out, Invalid{fmt.Sprintf("exceptions[%d]", i), "a closed date has no other entry"})
			continue
		}
		byDate[e.Date] = append(byDate[e.Date], indexed{i, e.Span})
	}
	dates := make([]Date, 0, len(byDate))
	for d := range byDate {
		dates = append(dates, d)
	}
	slices.SortFunc(dates, Date.Compare)
	for _, d := range dates {
		out = append(out, overlaps("exceptions", byDate[d])...)
	}
	return out
}

type indexed struct {
	i int
	Span
}

func weekdayOrder(m map[time.Weekday][]indexed) []time.Weekday {
	out := make([]time.Weekday, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func (s Span) check(field string) *Invalid {
	switch {
	case s.Start < 0 || s.Start >= EndOfDay:
		return &Invalid{field + ".start", "must be a time HH:MM from 00:00 to 23:59"}
	case s.End <= 0 || s.End > EndOfDay:
		return &Invalid{field + ".end", "must be a time HH:MM from 00:01 to 24:00"}
	case s.End <= s.Start:
		return &Invalid{field + ".end", "must be after start"}
	}
	return nil
}

// overlaps reports the spans of one day that overlap an earlier one.
func overlaps(list string, spans []indexed) []Invalid {
	slices.SortStableFunc(spans, func(a, b indexed) int { return cmp.Compare(a.Start, b.Start) })
	var out []Invalid
	for k := 1; k < len(spans); k++ {
		if spans[k].Start < spans[k-1].End {
			out = append(out, Invalid{fmt.Sprintf("%s[%d]", list, spans[k].i), "overlaps another span of the same day"})
		}
	}
	return out
}

// plan is an Availability indexed for lookups by date.
type plan struct {
	weekly     [7][]Span
	exceptions map[Date][]Span // a closed date maps to an empty, non-nil slice
}

func newPlan(a Availability) *plan {
	p := &plan{exceptions: map[Date][]Span{}}
	for _, w := range a.Weekly {
		if w.Weekday >= time.Sunday && w.Weekday <= time.Saturday {
			p.weekly[w.Weekday] = append(p.weekly[w.Weekday], w.Span)
		}
	}
	for d := range p.weekly {
		p.weekly[d] = merged(p.weekly[d])
	}
	for _, e := range a.Exceptions {
		spans := p.exceptions[e.Date]
		if spans == nil {
			spans = []Span{}
		}
		if !e.Closed {
			spans = append(spans, e.Span)
		}
		p.exceptions[e.Date] = spans
	}
	for d, spans := range p.exceptions {
		p.exceptions[d] = merged(spans)
	}
	return p
}

// on is the spans of date d: its exceptions when it has any, else the
// weekly pattern of its weekday.
func (p *plan) on(d Date) []Span {
	if spans, ok := p.exceptions[d]; ok {
		return spans
	}
	return p.weekly[d.Weekday()]
}

// merged sorts spans and joins those that touch at the same location, so a
// treatment may run across 12:00 of 09:00-12:00 and 12:00-15:00.
func merged(spans []Span) []Span {
	out := slices.Clone(spans)
	slices.SortFunc(out, func(a, b Span) int { return cmp.Compare(a.Start, b.Start) })
	n := 0
	for _, s := range out {
		if n > 0 && out[n-1].End >= s.Start && out[n-1].LocationID == s.LocationID {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out[n] = s
		n++
	}
	return out[:n]
}

// SpansOn is the practitioner's spans on date d, sorted, touching spans at
// one location joined: the exceptions of d when it has any, else the
// weekly pattern.
func (a Availability) SpansOn(d Date) []Span { return newPlan(a).on(d) }

// Interval is a stretch of absolute time, [Start, End).
type Interval struct{ Start, End time.Time }

// SlotStep is how far apart offered start times are: every quarter hour
// of a span, counted from the span's start (09:00, 09:15, ...), in elapsed
// time, so a daylight-saving change never yields a wall time that does not
// exist.
const SlotStep = 15 * time.Minute

// Slot is an open start time.
type Slot struct {
	PractitionerID string
	LocationID     string
	Start, End     time.Time
}

// SlotQuery asks for a practitioner's open times.
type SlotQuery struct {
	Zone         *time.Location // the clinic's time zone
	Availability Availability
	Busy         []Interval    // time the practitioner already has booked
	Duration     time.Duration // the treatment's length
	Step         time.Duration // SlotStep when zero
	From, To     time.Time     // slots start in [From, To)
	// LocationID keeps spans at that location and spans at none; empty
	// keeps all.
	LocationID string
}

// OpenSlots returns the start times, in order, at which the whole
// Duration fits inside one span of the practitioner's availability for
// that local date and overlaps none of Busy. Spans are laid on the clinic's
// wall clock with time.Date in Zone, so on a daylight-saving day 09:00 is
// 09:00 local whatever the UTC offset, and the hour a spring-forward skips
// offers nothing.
func OpenSlots(q SlotQuery) []Slot {
	step := cmp.Or(q.Step, SlotStep)
	if q.Zone == nil || q.Duration <= 0 || step <= 0 || !q.From.Before(q.To) {
		return nil
	}
	busy := slices.Clone(q.Busy)
	slices.SortFunc(busy, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	p := newPlan(q.Availability)
	var out []Slot
	next := 0 // busy[:next] ended before the current candidate
	last := DateOf(q.To.In(q.Zone))
	for d := DateOf(q.From.In(q.Zone)); d.Compare(last) <= 0; d = d.AddDays(1) {
		for _, sp := range p.on(d) {
			if q.LocationID != "" && sp.LocationID != "" && sp.LocationID != q.LocationID {
				continue
			}
			start, end := d.At(sp.Start, q.Zone), d.At(sp.End, q.Zone)
			s := start
			if s.Before(q.From) { // jump to the first step at or after From
				s = s.Add((q.From.Sub(s) + step - 1) / step * step)
			}
			for ; !s.Add(q.Duration).After(end) && s.Before(q.To); s = s.Add(step) {
				e := s.Add(q.Duration)
				for next < len(busy) && !busy[next].End.After(s) {
					next++
				}
				free := true
				for j := next; j < len(busy) && busy[j].Start.Before(e); j++ {
					if busy[j].End.After(s) {
						free = false
						break
					}
				}
				if free {
					out = append(out, Slot{PractitionerID: q.Availability.PractitionerID, LocationID: sp.LocationID, Start: s.UTC(), End: e.UTC()})
				}
			}
		}
	}
	return out
}
