package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/services/charting/internal/domain"
)

func draft() domain.Entry {
	mins := 45
	return domain.Entry{ID: "e-1", ClinicID: "c-1", PatientID: "p-1", AuthorID: "u-1", Notes: "Shoulder <rehab> & \"more\"",
		Attendees: []string{"Wiremu"}, OccurredOn: "2024-05-01", DurationMinutes: &mins, Status: domain.EntryDraft}
}

func TestCanonicalEntry_IsStableAndOrdered(t *testing.T) {
	e := draft()
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456789, time.FixedZone("NZST", 12*3600))
	require.NoError(t, e.Sign("u-1", at, "ev-1"))
	want := `{"v":1,"kind":"chart_entry","id":"e-1","clinic_id":"c-1","patient_id":"p-1","author_id":"u-1","appointment_id":"",` +
		`"occurred_on":"2024-05-01","duration_minutes":45,"attendees":["Wiremu"],"notes":"Shoulder <rehab> & \"more\"",` +
		`"signed_by":"u-1","signed_at":"2024-04-30T22:00:00.123456Z"}`
	require.Equal(t, want, string(domain.CanonicalEntry(e)))
	require.Equal(t, domain.EntryHash(e), e.ContentSHA256)
	require.Equal(t, "ev-1", e.SignEventID)
}

func TestEntry_SignLocksAndAmendmentsChain(t *testing.T) {
	e := draft()
	_, err := e.Amend("a-0", "u-1", "early", time.Now(), "ev")
	require.ErrorIs(t, err, domain.ErrConflict, "a draft is edited, not amended")
	require.True(t, e.Verify(), "a draft verifies trivially")

	require.NoError(t, e.Sign("u-1", time.Now(), "ev-1"))
	require.ErrorIs(t, e.Sign("u-1", time.Now(), "ev-2"), domain.ErrLocked)
	require.True(t, e.Verify())

	a1, err := e.Amend("a-1", "u-1", "first", time.Now(), "ev-3")
	require.NoError(t, err)
	require.Equal(t, 1, a1.Seq)
	e.Amendments = append(e.Amendments, a1)
	a2, err := e.Amend("a-2", "u-1", "second", time.Now(), "ev-4")
	require.NoError(t, err)
	require.Equal(t, 2, a2.Seq)
	e.Amendments = append(e.Amendments, a2)
	require.True(t, e.Verify())

	for name, tamper := range map[string]func(e *domain.Entry){
		"notes":             func(e *domain.Entry) { e.Notes += "." },
		"signer":            func(e *domain.Entry) { e.SignedBy = "u-2" },
		"amendment text":    func(e *domain.Entry) { e.Amendments[0].Notes = "changed" },
		"amendment order":   func(e *domain.Entry) { e.Amendments[0], e.Amendments[1] = e.Amendments[1], e.Amendments[0] },
		"amendment dropped": func(e *domain.Entry) { e.Amendments = e.Amendments[1:] },
		"attendees":         func(e *domain.Entry) { e.Attendees = nil },
	} {
		c := e
		c.Amendments = append([]domain.Amendment(nil), e.Amendments...)
		tamper(&c)
		require.False(t, c.Verify(), name)
	}
}
