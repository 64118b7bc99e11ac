package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/audit/internal/domain"
)

func sample() domain.Event {
	return domain.Event{
		ID: "e1", ClinicID: "c1", Region: "eu", Actor: domain.Actor{UserID: "u1", Role: "admin", SessionID: "s1"},
		Action: "patient.read", ResourceType: "patient", ResourceID: "p1", PatientID: "p1", Outcome: "success",
		RequestID: "r1", ClientIP: "enc:x", Version: 1,
		OccurredAt: time.Date(2026, 3, 8, 11, 30, 0, 5, time.FixedZone("CET", 3600)),
	}
}

func TestCanonical_IsStableSortedAndCompact(t *testing.T) {
	want := `{"action":"patient.read","actor":{"user_id":"u1","role":"admin","session_id":"s1","system":""},` +
		`"client_ip":"enc:x","clinic_id":"c1","id":"e1","occurred_at":"2026-03-08T10:30:00.000000005Z",` +
		`"outcome":"success","patient_id":"p1","region":"eu","request_id":"r1","resource_id":"p1",` +
		`"resource_type":"patient","version":1}`
	require.Equal(t, want, string(sample().Canonical()))

	back, err := domain.DecodeEvent(sample().Canonical())
	require.NoError(t, err)
	require.Equal(t, sample().Canonical(), back.Canonical())
}

func TestChainHash_IsSHA256OfPrevBytesAndPayload(t *testing.T) {
	payload := sample().Canonical()
	got, err := domain.ChainHash(domain.GenesisHash, payload)
	require.NoError(t, err)
	sum := sha256.Sum256(append(make([]byte, 32), payload...))
	require.Equal(t, hex.EncodeToString(sum[:]), got)

	l1, err := domain.Next(domain.Genesis(), payload)
	require.NoError(t, err)
	require.Equal(t, domain.Link{Seq: 1, PrevHash: domain.GenesisHash, Hash: got}, l1)

	_, err = domain.ChainHash("not-hex", payload)
	require.ErrorIs(t, err, domain.ErrCorrupt)
}

func TestValidate_RequiresChainFieldsAndUTF8(t *testing.T) {
	for name, mutate := range map[string]func(*domain.Event){
		"id":          func(e *domain.Event) { e.ID = "" },
		"clinic_id":   func(e *domain.Event) { e.ClinicID = "" },
		"action":      func(e *domain.Event) { e.Action = "" },
		"occurred_at": func(e *domain.Event) { e.OccurredAt = time.Time{} },
		"utf-8 id":    func(e *domain.Event) { e.ResourceID = "p\xff" },
		"utf-8 actor": func(e *domain.Event) { e.Actor.System = "\xc3" },
	} {
		t.Run(name, func(t *testing.T) {
			e := sample()
			mutate(&e)
			require.ErrorIs(t, e.Validate(), domain.ErrInvalidEvent)
		})
	}
	require.NoError(t, sample().Validate())
}

func TestDecodeEvent_IsStrict(t *testing.T) {
	good := string(sample().Canonical())
	for name, payload := range map[string]string{
		"unknown member":   strings.Replace(good, `"action":`, `"email":"x","action":`, 1),
		"duplicate member": strings.Replace(good, `"action":"patient.read"`, `"action":"patient.read","action":"chart.sign"`, 1),
		"other case":       strings.Replace(good, `"action":`, `"Action":`, 1),
		"trailing data":    good + ` {}`,
		"invalid UTF-8":    strings.Replace(good, `"e1"`, "\"e\xff1\"", 1),
		"not an object":    `[1,2]`,
		"wrong type":       strings.Replace(good, `"version":1`, `"version":"1"`, 1),
		"bad time":         strings.Replace(good, `2026-03-08T10:30:00.000000005Z`, `yesterday`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := domain.DecodeEvent([]byte(payload))
			require.ErrorIs(t, err, domain.ErrCorrupt)
		})
	}
	e, err := domain.DecodeEvent([]byte(good))
	require.NoError(t, err)
	require.Equal(t, good, string(e.Canonical()))
}

// FuzzDecodeEvent: any input either fails with ErrCorrupt or decodes to an
// event whose canonical encoding decodes to the same event again.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(sample().Canonical())
	f.Add([]byte(`{"version":1,"id":"e","clinic_id":"c","action":"a","occurred_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := domain.DecodeEvent(payload)
		if err != nil {
			require.ErrorIs(t, err, domain.ErrCorrupt)
			return
		}
		again, err := domain.DecodeEvent(e.Canonical())
		require.NoError(t, err)
		require.Equal(t, e.Canonical(), again.Canonical())
	})
}

// FuzzCanonical_MatchesEncodingJSON: Canonical builds the common events'
// encoding itself and leaves the rest to encoding/json; the chain's hashes
// depend on both giving the same bytes for every event, whatever its
// strings (quotes, HTML characters, control characters, invalid UTF-8,
// U+2028), time or version.
func FuzzCanonical_MatchesEncodingJSON(f *testing.F) {
	f.Add("chart.read", "u1", "admin", "s1", "", "v1:AbC+/=", "c1", "e1", int64(1772965800000000005), 1, "x")
	f.Add("a<b>&", "\"q\"", "\\", "\u2028", "\x00", "\xff", "é", "id", int64(-62135596800000000000/1000), 0, "\u2029")
	f.Add("", "", "", "", "", "", "", "", int64(253402300800000000000/1000), -3, "")
	for _, c := range []string{"<", ">", "&", `"`, `\\`, "\x1f", "\x7f", "\u2028", "\xff", "\u00e9"} {
		f.Add("chart"+c+"read", "u1", "admin", "s1", "", "v1:x", "c1", "e1", int64(0), 1, "")
	}
	f.Fuzz(func(t *testing.T, action, user, role, session, system, ip, clinic, id string, nanos int64, version int, rest string) {
		e := domain.Event{
			Action: action, Actor: domain.Actor{UserID: user, Role: role, SessionID: session, System: system},
			ClientIP: ip, ClinicID: clinic, ID: id, OccurredAt: time.Unix(0, nanos).In(time.FixedZone("X", 3600)),
			Outcome: rest, PatientID: rest + "p", Region: "r" + rest, RequestID: rest, ResourceID: id + rest,
			ResourceType: rest + action, Version: version,
		}
		utc := e
		utc.OccurredAt = e.OccurredAt.UTC()
		want, err := json.Marshal(utc)
		if err != nil {
			require.Panics(t, func() { e.Canonical() })
			return
		}
		require.Equal(t, string(want), string(e.Canonical()))
	})
}

// TestCanonical_CoversEveryField: every field of Event and Actor, set to a
// value of its own, appears in the canonical encoding as encoding/json has
// it (a field added to Event but not to Canonical's fast path fails here).
func TestCanonical_CoversEveryField(t *testing.T) {
	var e domain.Event
	fill := func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.String {
				f.SetString(prefix + v.Type().Field(i).Name)
			}
		}
	}
	fill(reflect.ValueOf(&e).Elem(), "v-")
	fill(reflect.ValueOf(&e.Actor).Elem(), "a-")
	e.Version, e.OccurredAt = 7, time.Date(2026, 11, 24, 1, 2, 3, 4, time.UTC)
	want, err := json.Marshal(e)
	require.NoError(t, err)
	require.Equal(t, string(want), string(e.Canonical()))
	require.Contains(t, string(want), `"v-ResourceType"`)
	require.Contains(t, string(want), `"a-System"`)
}

// benchEvent is a chart read as producers send it (uuids, a sealed address).
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

// BenchmarkCanonical is the consumer's canonical encoding of an event;
// BenchmarkCanonical_EncodingJSON, its baseline in the same run, is what
// encoding/json alone spends on the same bytes.
func BenchmarkCanonical(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Canonical()
	}
}

func BenchmarkCanonical_EncodingJSON(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvent is the consumer's strict decoding of a message.
func BenchmarkDecodeEvent(b *testing.B) {
	payload := benchEvent().Canonical()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.DecodeEvent(payload); err != nil {
			b.Fatal(err)
		}
	}
}
