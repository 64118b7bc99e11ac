package httpapi

import (
	"strings"
	"testing"

	"github.com/havenhealth/haven/services/scheduling/internal/domain"
)

// FuzzDecodeAvailability: whatever the body, the availability decoder and
// the domain's rules answer with a 4xx problem or a value, never a panic.
func FuzzDecodeAvailability(f *testing.F) {
	for _, seed := range []string{
		`{"weekly":[{"weekday":"monday","start":"09:00","end":"12:00","location_id":"l1"}],"exceptions":[{"date":"2026-12-24","closed":true}]}`,
		`{"exceptions":[{"date":"2026-03-08","start":"01:00","end":"04:00"},{"date":"2026-03-08","start":"03:00","end":"24:00"}]}`,
		`{"weekly":[{"weekday":"Sunday","start":"24:00","end":"00:00"}]}`,
		`{"weekly":null,"exceptions":[{"date":"2026-02-30"}]}`,
		`{"weekly":[{}]}`, `{}`, `[]`, `null`, `{"weekly":{}}`, `{"x":1}`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		av, p := decodeAvailability(strings.NewReader(body))
		if p != nil {
			if p.Status < 400 || p.Status > 499 {
				t.Fatalf("status %d for %q", p.Status, body)
			}
			return
		}
		for _, inv := range av.Validate() {
			if inv.Field == "" || inv.Reason == "" {
				t.Fatalf("unnamed problem for %q", body)
			}
		}
		for _, w := range av.Weekly {
			if w.Start < 0 || w.End > 1440 {
				t.Fatalf("clock out of the day for %q", body)
			}
		}
	})
}

// FuzzDecodeSettings: the settings decoder answers with a 4xx problem or a
// value, never a panic.
func FuzzDecodeSettings(f *testing.F) {
	for _, seed := range []string{
		`{"time_zone":"America/Toronto","reminder_offsets_minutes":[2880,120],"reminder_channels":["email"]}`,
		`{"time_zone":"../../etc/passwd"}`, `{"reminder_offsets_minutes":[1e99]}`, `{"reminder_channels":null}`,
		`{}`, `null`, `[]`, `{"time_zone":7}`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		in, p := decodeSettings(strings.NewReader(body))
		if p != nil {
			if p.Status < 400 || p.Status > 499 {
				t.Fatalf("status %d for %q", p.Status, body)
			}
			return
		}
		if in.TimeZone != nil {
			s := domain.DefaultSettings("c1")
			s.TimeZone = *in.TimeZone
			if _, ok := domain.LoadZone(s.TimeZone); ok != (len(s.Validate()) == 0) {
				t.Fatalf("zone check and validation disagree for %q", body)
			}
		}
	})
}
