package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/fieldcrypt/fieldcrypttest"
	"github.com/havenhealth/haven/libs/store/storetest"
)

const testClinic = "0b9d7c1e-4a57-4f0c-9a43-2f1f3c8f6d21"

func validEvent() audit.Event {
	e := audit.New(testClinic, "london", audit.Actor{UserID: "u-123", Role: "clinician", SessionID: "s-9"},
		audit.ChartRead, audit.Allowed)
	e.ResourceType, e.ResourceID, e.PatientID, e.RequestID = "chart", "c-77", "p-42", "req-1"
	return e
}

func TestNew_FillsIDVersionAndTime(t *testing.T) {
	e := validEvent()
	require.NoError(t, e.Validate())
	require.Equal(t, audit.SchemaVersion, e.Version)
	require.Equal(t, time.UTC, e.OccurredAt.Location())
	require.Equal(t, e.OccurredAt, e.OccurredAt.Truncate(time.Microsecond))
	require.NotEqual(t, e.ID, validEvent().ID)
}

func TestValidate_RejectsPersonalDataInEveryIDField(t *testing.T) {
	fields := map[string]func(*audit.Event, string){
		"clinic_id":        func(e *audit.Event, v string) { e.ClinicID = v },
		"actor.user_id":    func(e *audit.Event, v string) { e.Actor.UserID = v },
		"actor.role":       func(e *audit.Event, v string) { e.Actor.Role = v },
		"actor.session_id": func(e *audit.Event, v string) { e.Actor.SessionID = v },
		"actor.system":     func(e *audit.Event, v string) { e.Actor.System = v },
		"resource_type":    func(e *audit.Event, v string) { e.ResourceType = v },
		"resource_id":      func(e *audit.Event, v string) { e.ResourceID = v },
		"patient_id":       func(e *audit.Event, v string) { e.PatientID = v },
		"request_id":       func(e *audit.Event, v string) { e.RequestID = v },
		"id":               func(e *audit.Event, v string) { e.ID = v },
		"region":           func(e *audit.Event, v string) { e.Region = v },
		"action":           func(e *audit.Event, v string) { e.Action = audit.Action(v) },
		"outcome":          func(e *audit.Event, v string) { e.Outcome = audit.Outcome(v) },
		"client_ip":        func(e *audit.Event, v string) { e.ClientIP = v },
	}
	personal := map[string]string{
		"email":   "jane.doe@example.com",
		"name":    "Jane Doe",
		"phone":   "+44 20 7946 0958",
		"ip":      "203.0.113.7",
		"note":    "patient reports chest pain",
		"toolong": string(make([]byte, 129)),
	}
	for field, set := range fields {
		for kind, value := range personal {
			if kind == "ip" && field != "client_ip" {
				continue // a bare dotted address is id-shaped; it is only refused where an IP would go
			}
			t.Run(field+"/"+kind, func(t *testing.T) {
				e := validEvent()
				set(&e, value)
				err := e.Validate()
				require.ErrorIs(t, err, audit.ErrInvalidEvent)
				require.NotContains(t, err.Error(), value, "error echoes the value")
				if field != "id" { // CheckShape takes any id-shaped event id
					err = e.CheckShape()
					require.ErrorIs(t, err, audit.ErrInvalidEvent, "CheckShape")
					require.NotContains(t, err.Error(), value, "error echoes the value")
				}
			})
		}
	}
}

func TestValidate_RejectsUnknownActionOutcomeVersionAndMissingActor(t *testing.T) {
	for name, mut := range map[string]func(*audit.Event){
		"action":  func(e *audit.Event) { e.Action = "chart.delete" },
		"outcome": func(e *audit.Event) { e.Outcome = "maybe" },
		"version": func(e *audit.Event) { e.Version = 2 },
		"actor":   func(e *audit.Event) { e.Actor = audit.Actor{} },
		"time":    func(e *audit.Event) { e.OccurredAt = time.Time{} },
		"uuidv4":  func(e *audit.Event) { e.ID = "6f1c2f4e-8f3a-4a8e-9a3b-1c2d3e4f5a6b" },
	} {
		t.Run(name, func(t *testing.T) {
			e := validEvent()
			mut(&e)
			require.ErrorIs(t, e.Validate(), audit.ErrInvalidEvent)
		})
	}
	sys := audit.New(testClinic, "sydney", audit.Actor{System: "relay"}, audit.ClinicKeyRotate, audit.Failed)
	require.NoError(t, sys.Validate(), "a system actor is valid")
}

// What a newer schema may bring (an action, a region, a version) passes
// CheckShape, so an older audit service still chains it; Validate, which
// producers run, refuses it.
func TestCheckShape_AcceptsWhatANewerSchemaMayAdd(t *testing.T) {
	e := validEvent()
	e.Action, e.Region, e.Version = "chart.archive", "tokyo", 2
	require.NoError(t, e.CheckShape())
	require.ErrorIs(t, e.Validate(), audit.ErrInvalidEvent)
}

func TestActions_AreTheDocumentedClosedList(t *testing.T) {
	want := []string{"session.create", "session.fail", "session.locked", "session.verify", "session.verify_fail",
		"session.refresh", "session.end", "session.end_all", "clinic.signup", "clinic.close_request",
		"clinic.close_cancel", "clinic.closed", "clinic.key_rotate", "user.create", "user.update",
		"user.grants_change", "user.deactivate", "user.reactivate", "user.invite_accept", "password.change",
		"password.reset_request", "password.reset", "two_step.enroll", "two_step.remove", "settings.change",
		"chart.read", "chart.write", "chart.sign", "chart.export", "patient.read", "patient.contact.read",
		"patient.write", "appointment.read", "appointment.write", "invoice.create", "invoice.read",
		"payment.create", "claim.read", "login_history.read", "activity.read"}
	var got []string
	for _, a := range audit.Actions() {
		got = append(got, string(a))
		require.True(t, a.Known())
	}
	require.Equal(t, want, got)
	require.False(t, audit.Action("chart.delete").Known())
}

func TestJSON_KeysAreExactlyTheDocumentedSet(t *testing.T) {
	e := validEvent()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &m))
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := audit.JSONKeys()
	slices.Sort(want)
	require.Equal(t, want, keys)
	require.Equal(t, []string{"version", "id", "clinic_id", "region", "actor", "action", "resource_type",
		"resource_id", "patient_id", "outcome", "request_id", "client_ip", "occurred_at"}, audit.JSONKeys())

	var actor map[string]string
	require.NoError(t, json.Unmarshal(m["actor"], &actor))
	require.Equal(t, map[string]string{"user_id": "u-123", "role": "clinician", "session_id": "s-9"}, actor)
}

func TestCanonical_IsStableAndRoundTrips(t *testing.T) {
	e := validEvent()
	e.OccurredAt = time.Date(2026, 11, 24, 14, 3, 40, 120000000, time.UTC)
	c := e.Canonical()
	require.Equal(t, `{"version":1,"id":"`+e.ID+`","clinic_id":"`+testClinic+`","region":"london",`+
		`"actor":{"user_id":"u-123","role":"clinician","session_id":"s-9"},"action":"chart.read",`+
		`"resource_type":"chart","resource_id":"c-77","patient_id":"p-42","outcome":"allowed",`+
		`"request_id":"req-1","client_ip":"","occurred_at":"2026-11-24T14:03:40.120000Z"}`, string(c))

	var back audit.Event
	require.NoError(t, json.Unmarshal(c, &back))
	require.Equal(t, e, back)
	require.Equal(t, c, back.Canonical())

	// The same instant in another zone encodes identically.
	e2 := e
	e2.OccurredAt = e.OccurredAt.In(time.FixedZone("x", 3600))
	require.Equal(t, c, e2.Canonical())

	require.ErrorIs(t, json.Unmarshal([]byte(`{"version":1,"name":"Jane"}`), &back), audit.ErrInvalidEvent)
}

func TestSealClientIP_EncryptsUnderTheClinicKeyAndScope(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, nil)
	require.NoError(t, fieldcrypt.Migrate(ctx, db))
	keys := fieldcrypttest.NewMemoryKeys()
	require.NoError(t, keys.CreateKey(ctx, testClinic))
	c := fieldcrypt.New(keys, db, fieldcrypt.Options{})

	e := validEvent()
	require.NoError(t, audit.SealClientIP(ctx, c, &e, "203.0.113.7"))
	require.NotEmpty(t, e.ClientIP)
	require.NotContains(t, e.ClientIP, "203.0.113.7")
	require.NoError(t, e.Validate())
	require.NotContains(t, string(e.Canonical()), "203.0.113.7")

	ip, err := audit.OpenClientIP(ctx, c, e)
	require.NoError(t, err)
	require.Equal(t, "203.0.113.7", ip)

	// Bound to the event: copied to another event it does not open.
	other := validEvent()
	other.ClientIP = e.ClientIP
	_, err = audit.OpenClientIP(ctx, c, other)
	require.True(t, errors.Is(err, fieldcrypt.ErrIntegrity), "got %v", err)

	require.NoError(t, audit.SealClientIP(ctx, c, &e, ""))
	require.Empty(t, e.ClientIP)
}
