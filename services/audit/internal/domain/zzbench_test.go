package domain_test

import (
	"encoding/json"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"testing"
	"time"

	"github.com/havenhealth/haven/services/audit/internal/domain"
)

func benchEvent() domain.Event {
	return domain.Event{
		ID: "019a5b8e-7c1d-7b3e-9f20-3c4d5e6f7a8b", ClinicID: "5b1f0c8e-2a4d-4e7f-9b3c-1d2e3f4a5b6c", Region: "montreal",
		Actor:  domain.Actor{UserID: "0c8e5b1f-2a4d-4e7f-9b3c-1d2e3f4a5b6c", Role: "practitioner", SessionID: "8e5b1f0c-2a4d-4e7f-9b3c-1d2e3f4a5b6c"},
		Action: "chart.read", ResourceType: "chart_entry", ResourceID: "1f0c8e5b-2a4d-4e7f-9b3c-1d2e3f4a5b6c",
		PatientID: "f0c8e5b1-2a4d-4e7f-9b3c-1d2e3f4a5b6c", Outcome: "allowed", RequestID: "c8e5b1f0-2a4d-4e7f-9b3c-1d2e3f4a5b6c",
		ClientIP:   "v1:AAAAAQAAAAxuYW1lLmtleS52MQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		OccurredAt: time.Date(2026, 11, 24, 10, 0, 0, 123456000, time.UTC), Version: 1,
	}
}

func BenchmarkZZDecode(b *testing.B) {
	p := benchEvent().Canonical()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.DecodeEvent(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZZCanonical(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Canonical()
	}
}

func BenchmarkZZCanonicalV2(b *testing.B) {
	e := benchEvent()
	want := e.Canonical()
	got, _ := jsonv2.Marshal(e, jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true))
	if string(got) != string(want) {
		b.Fatalf("%s\n%s", got, want)
	}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = jsonv2.Marshal(e, jsontext.EscapeForHTML(true), jsontext.EscapeForJS(true))
	}
}

func BenchmarkZZCanonicalV1(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(e)
	}
}
