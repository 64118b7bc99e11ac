package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

func toronto(t testing.TB) *time.Location {
	t.Helper()
	loc, ok := domain.LoadZone("America/Toronto")
	require.True(t, ok)
	return loc
}

func clock(t testing.TB, s string) domain.Clock {
	t.Helper()
	c, ok := domain.ParseClock(s)
	require.True(t, ok, s)
	return c
}

func span(t testing.TB, start, end string) domain.Span {
	return domain.Span{Start: clock(t, start), End: clock(t, end)}
}

func date(t testing.TB, s string) domain.Date {
	t.Helper()
	d, ok := domain.ParseDate(s)
	require.True(t, ok, s)
	return d
}

// localTimes formats slot starts on the zone's wall clock.
func localTimes(slots []domain.Slot, zone *time.Location) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = s.Start.In(zone).Format("2006-01-02 15:04 MST")
	}
	return out
}

// The 2026 daylight-saving changes in America/Toronto: 2026-03-08 02:00
// EST becomes 03:00 EDT; 2026-11-01 02:00 EDT becomes 01:00 EST. Both are
// Sundays.
const (
	springForward = "2026-03-08"
	fallBack      = "2026-11-01"
)

func TestOpenSlots_NineOClockLocalOnBothDaylightSavingDays(t *testing.T) {
	zone := toronto(t)
	av := domain.Availability{PractitionerID: "p1", Weekly: []domain.WeeklySpan{{Weekday: time.Sunday, Span: span(t, "09:00", "12:00")}}}
	for day, wantUTC := range map[string]string{
		"2026-03-01":  "2026-03-01T14:00:00Z", // EST, UTC-5
		springForward: "2026-03-08T13:00:00Z", // EDT, UTC-4
		fallBack:      "2026-11-01T14:00:00Z", // EST again
		"2026-10-25":  "2026-10-25T13:00:00Z", // EDT
	} {
		d := date(t, day)
		slots := domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: 30 * time.Minute,
			From: d.At(0, zone), To: d.AddDays(1).At(0, zone)})
		require.Len(t, slots, 11, day) // 09:00 to 11:30 every quarter hour
		require.Equal(t, wantUTC, slots[0].Start.Format(time.RFC3339), day)
		require.Equal(t, "09:00", slots[0].Start.In(zone).Format("15:04"), day)
		require.Equal(t, "11:30", slots[10].Start.In(zone).Format("15:04"), day)
		require.Equal(t, "p1", slots[0].PractitionerID)
	}
}

func TestOpenSlots_SpringForwardOffersNoTimeThatDoesNotExist(t *testing.T) {
	zone := toronto(t)
	d := date(t, springForward)
	av := domain.Availability{Exceptions: []domain.Exception{{Date: d, Span: span(t, "01:00", "04:00")}}}
	slots := domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: 15 * time.Minute,
		From: d.At(0, zone), To: d.AddDays(1).At(0, zone)})
	require.Equal(t, []string{
		"2026-03-08 01:00 EST", "2026-03-08 01:15 EST", "2026-03-08 01:30 EST", "2026-03-08 01:45 EST",
		"2026-03-08 03:00 EDT", "2026-03-08 03:15 EDT", "2026-03-08 03:30 EDT", "2026-03-08 03:45 EDT",
	}, localTimes(slots, zone), "01:00-04:00 on the wall clock is two hours of real time")
	for i := 1; i < len(slots); i++ {
		require.Equal(t, 15*time.Minute, slots[i].Start.Sub(slots[i-1].Start))
	}

	// A span that starts inside the skipped hour starts when the clock
	// resumes, not an hour early.
	av = domain.Availability{Exceptions: []domain.Exception{{Date: d, Span: span(t, "02:30", "04:00")}}}
	slots = domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: 60 * time.Minute,
		From: d.At(0, zone), To: d.AddDays(1).At(0, zone)})
	require.Equal(t, []string{"2026-03-08 03:00 EDT"}, localTimes(slots, zone))
}

func TestOpenSlots_FallBackOffersTheRepeatedHourTwice(t *testing.T) {
	zone := toronto(t)
	d := date(t, fallBack)
	av := domain.Availability{Exceptions: []domain.Exception{{Date: d, Span: span(t, "00:30", "02:30")}}}
	slots := domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: 30 * time.Minute,
		From: d.At(0, zone), To: d.AddDays(1).At(0, zone)})
	require.Equal(t, []string{
		"2026-11-01 00:30 EDT", "2026-11-01 00:45 EDT", "2026-11-01 01:00 EDT", "2026-11-01 01:15 EDT",
		"2026-11-01 01:30 EDT", "2026-11-01 01:45 EDT", "2026-11-01 01:00 EST", "2026-11-01 01:15 EST",
		"2026-11-01 01:30 EST", "2026-11-01 01:45 EST", "2026-11-01 02:00 EST",
	}, localTimes(slots, zone), "00:30-02:30 on the wall clock is three hours of real time")
}

func TestOpenSlots_ExceptionsBusyTimeLocationsAndBounds(t *testing.T) {
	zone := toronto(t)
	mon := date(t, "2026-06-01") // a Monday
	weekly := []domain.WeeklySpan{
		{Weekday: time.Monday, Span: domain.Span{Start: clock(t, "09:00"), End: clock(t, "10:00"), LocationID: "loc-a"}},
		{Weekday: time.Monday, Span: domain.Span{Start: clock(t, "10:00"), End: clock(t, "11:00"), LocationID: "loc-a"}},
		{Weekday: time.Monday, Span: domain.Span{Start: clock(t, "13:00"), End: clock(t, "14:00"), LocationID: "loc-b"}},
	}
	query := func(av domain.Availability, busy []domain.Interval, dur time.Duration, loc string) []string {
		return localTimes(domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Busy: busy, Duration: dur,
			Step: 30 * time.Minute, From: mon.At(0, zone), To: mon.AddDays(1).At(0, zone), LocationID: loc}), zone)
	}
	at := func(c string) time.Time { return mon.At(clock(t, c), zone) }
	av := domain.Availability{Weekly: weekly}

	require.Equal(t, []string{"2026-06-01 09:00 EDT", "2026-06-01 09:30 EDT", "2026-06-01 10:00 EDT", "2026-06-01 13:00 EDT"},
		query(av, nil, time.Hour, ""), "touching spans at one location join: 09:30-10:30 fits")
	require.Equal(t, []string{"2026-06-01 13:00 EDT", "2026-06-01 13:30 EDT"}, query(av, nil, 30*time.Minute, "loc-b"))
	require.Equal(t, []string{"2026-06-01 09:00 EDT", "2026-06-01 10:30 EDT", "2026-06-01 13:00 EDT", "2026-06-01 13:30 EDT"},
		query(av, []domain.Interval{{Start: at("09:30"), End: at("10:30")}}, 30*time.Minute, ""),
		"booked time is not offered; back to back is")

	closed := av
	closed.Exceptions = []domain.Exception{{Date: mon, Closed: true}, {Date: mon.AddDays(7), Span: span(t, "08:00", "08:30")}}
	require.Empty(t, query(closed, nil, 30*time.Minute, ""), "a closed date offers nothing")
	other := av
	other.Exceptions = []domain.Exception{{Date: mon, Span: span(t, "16:00", "17:00")}}
	require.Equal(t, []string{"2026-06-01 16:00 EDT", "2026-06-01 16:30 EDT"}, query(other, nil, 30*time.Minute, "loc-a"),
		"an exception replaces the weekly pattern; a span at no location is at every one")

	// Slots start in [From, To), on the span's own quarter-hour grid.
	slots := domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: 15 * time.Minute, From: at("09:20"), To: at("10:00")})
	require.Equal(t, []string{"2026-06-01 09:30 EDT", "2026-06-01 09:45 EDT"}, localTimes(slots, zone))
	require.Empty(t, domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: 0, From: at("09:00"), To: at("12:00")}))
	require.Empty(t, domain.OpenSlots(domain.SlotQuery{Zone: zone, Availability: av, Duration: time.Hour, From: at("12:00"), To: at("09:00")}))
}

func TestAvailabilityValidate(t *testing.T) {
	mon := func(start, end string) domain.WeeklySpan {
		return domain.WeeklySpan{Weekday: time.Monday, Span: span(t, start, end)}
	}
	d := date(t, "2026-12-24")
	for name, tc := range map[string]struct {
		av   domain.Availability
		want []string
	}{
		"fine":                {domain.Availability{Weekly: []domain.WeeklySpan{mon("09:00", "12:00"), mon("12:00", "24:00")}}, nil},
		"end before start":    {domain.Availability{Weekly: []domain.WeeklySpan{mon("12:00", "09:00")}}, []string{"weekly[0].end"}},
		"overlap":             {domain.Availability{Weekly: []domain.WeeklySpan{mon("09:00", "12:00"), mon("11:00", "13:00")}}, []string{"weekly[1]"}},
		"other days overlap":  {domain.Availability{Weekly: []domain.WeeklySpan{mon("09:00", "12:00"), {Weekday: time.Tuesday, Span: span(t, "09:00", "12:00")}}}, nil},
		"closed and open":     {domain.Availability{Exceptions: []domain.Exception{{Date: d, Closed: true}, {Date: d, Span: span(t, "09:00", "10:00")}}}, []string{"exceptions[1]"}},
		"two closed":          {domain.Availability{Exceptions: []domain.Exception{{Date: d, Closed: true}, {Date: d, Closed: true}}}, []string{"exceptions[1]"}},
		"exceptions overlap":  {domain.Availability{Exceptions: []domain.Exception{{Date: d, Span: span(t, "09:00", "10:00")}, {Date: d, Span: span(t, "09:30", "11:00")}}}, []string{"exceptions[1]"}},
		"exceptions two days": {domain.Availability{Exceptions: []domain.Exception{{Date: d, Span: span(t, "09:00", "10:00")}, {Date: d.AddDays(1), Span: span(t, "09:30", "11:00")}}}, nil},
		"no date":             {domain.Availability{Exceptions: []domain.Exception{{Closed: true}}}, []string{"exceptions[0].date"}},
		"start at 24:00":      {domain.Availability{Weekly: []domain.WeeklySpan{{Weekday: time.Monday, Span: domain.Span{Start: domain.EndOfDay, End: domain.EndOfDay}}}}, []string{"weekly[0].start"}},
	} {
		var got []string
		for _, inv := range tc.av.Validate() {
			got = append(got, inv.Field)
		}
		require.Equal(t, tc.want, got, name)
	}
}

func TestParseClockAndDate(t *testing.T) {
	for in, want := range map[string]int{"00:00": 0, "09:05": 545, "23:59": 1439, "24:00": 1440} {
		c, ok := domain.ParseClock(in)
		require.True(t, ok, in)
		require.Equal(t, want, int(c), in)
		require.Equal(t, in, c.String())
	}
	for _, in := range []string{"", "9:00", "24:01", "12:60", "ab:cd", "12-00", "012:00", "-1:00"} {
		_, ok := domain.ParseClock(in)
		require.False(t, ok, in)
	}
	for _, in := range []string{"2026-02-30", "26-01-01", "1999-12-31", "2026-1-01", ""} {
		_, ok := domain.ParseDate(in)
		require.False(t, ok, in)
	}
	d := date(t, "2026-12-31")
	require.Equal(t, "2027-01-01", d.AddDays(1).String())
	require.Equal(t, time.Thursday, d.Weekday())
	w, ok := domain.ParseWeekday("Monday")
	require.True(t, ok)
	require.Equal(t, "monday", domain.WeekdayName(w))
	_, ok = domain.ParseWeekday("mon")
	require.False(t, ok)
}

func TestSettingsValidate(t *testing.T) {
	ok := domain.DefaultSettings("c1")
	require.Empty(t, ok.Validate())
	require.Equal(t, "UTC", ok.TimeZone)
	for name, mutate := range map[string]func(*domain.Settings){
		"zone":          func(s *domain.Settings) { s.TimeZone = "Mars/Olympus" },
		"local":         func(s *domain.Settings) { s.TimeZone = "Local" },
		"empty zone":    func(s *domain.Settings) { s.TimeZone = "" },
		"path":          func(s *domain.Settings) { s.TimeZone = "../../etc/passwd" },
		"short offset":  func(s *domain.Settings) { s.ReminderOffsets = []time.Duration{time.Minute} },
		"twice":         func(s *domain.Settings) { s.ReminderOffsets = []time.Duration{time.Hour, time.Hour} },
		"channel":       func(s *domain.Settings) { s.ReminderChannels = []string{"pigeon"} },
		"channel twice": func(s *domain.Settings) { s.ReminderChannels = []string{"sms", "sms"} },
		"no channel":    func(s *domain.Settings) { s.ReminderChannels = nil },
		"no offset":     func(s *domain.Settings) { s.ReminderOffsets = []time.Duration{} },
	} {
		s := domain.DefaultSettings("c1")
		mutate(&s)
		require.Len(t, s.Validate(), 1, name)
	}
}

// BenchmarkOpenSlots computes a month of one practitioner's open times: a
// weekday pattern of two spans, 200 booked appointments, in a zone with a
// daylight-saving change inside the month.
func BenchmarkOpenSlots(b *testing.B) {
	zone := toronto(b)
	var weekly []domain.WeeklySpan
	for d := time.Monday; d <= time.Friday; d++ {
		weekly = append(weekly, domain.WeeklySpan{Weekday: d, Span: span(b, "09:00", "12:00")},
			domain.WeeklySpan{Weekday: d, Span: span(b, "13:00", "17:30")})
	}
	first := date(b, "2026-10-15")
	from, to := first.At(0, zone), first.AddDays(31).At(0, zone)
	var busy []domain.Interval
	for i := range 200 {
		s := from.Add(time.Duration(i) * 217 * time.Minute)
		busy = append(busy, domain.Interval{Start: s, End: s.Add(45 * time.Minute)})
	}
	q := domain.SlotQuery{Zone: zone, Availability: domain.Availability{Weekly: weekly,
		Exceptions: []domain.Exception{{Date: first.AddDays(10), Closed: true}}}, Busy: busy, Duration: 45 * time.Minute, From: from, To: to}
	b.ReportAllocs()
	for b.Loop() {
		if len(domain.OpenSlots(q)) == 0 {
			b.Fatal("no slots")
		}
	}
}
