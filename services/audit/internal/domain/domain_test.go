package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
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

func TestValidate_RequiresChainFields(t *testing.T) {
	for name, mutate := range map[string]func(*domain.Event){
		"id":          func(e *domain.Event) { e.ID = "" },
		"clinic_id":   func(e *domain.Event) { e.ClinicID = "" },
		"action":      func(e *domain.Event) { e.Action = "" },
		"occurred_at": func(e *domain.Event) { e.OccurredAt = time.Time{} },
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
