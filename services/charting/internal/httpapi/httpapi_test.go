package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/charting/internal/events"
)

// plaintexts are values of the standard patient and entry that must never
// be stored readable.
var plaintexts = []string{"Aroha", "Ngata", "aroha.ngata@example.org", "+6493001234", "Harbour Street", "Wiremu",
	"Latex allergy", "1984-03-09", "Shoulder rehab", "Follow-up note"}

func TestPatients_SearchFindsByLookupsAndNothingIsStoredInPlaintext(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	a := f.signIn(authz.RolePractitioner, nil, "")
	entry := f.ok(&a, http.StatusCreated, http.MethodPost, "/v1/patients/"+id+"/entries", `{"notes":"Shoulder rehab, week 2","attendees":["Wiremu Ngata"]}`)
	f.ok(&a, http.StatusOK, http.MethodPost, "/v1/entries/"+entry["id"].(string)+"/sign", "")
	f.ok(&a, http.StatusCreated, http.MethodPost, "/v1/entries/"+entry["id"].(string)+"/amendments", `{"notes":"Follow-up note"}`)

	got := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients/"+id, "")
	require.Equal(t, "aroha.ngata@example.org", got["email"], "e-mail is stored normalised")
	require.Equal(t, "+6493001234", got["phone"], "phone is stored in E.164")
	require.Equal(t, "+64215550199", got["emergency_contact"].(map[string]any)["phone"], "a national number is read in the address country")
	require.Equal(t, "NZ", got["address"].(map[string]any)["country"])

	for _, q := range []string{
		"email=" + url.QueryEscape("ARoha.Ngata@example.ORG"),
		"phone=" + url.QueryEscape("+64 (9) 300-1234"),
		"phone=" + url.QueryEscape("09 300 1234") + "&phone_country=nz",
		"date_of_birth=1984-03-09",
		"name=NGATA",
		"name=" + url.QueryEscape("  aroha   ngata "),
		"name=ngata&date_of_birth=1984-03-09",
	} {
		res := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients?"+q, "")
		items := res["items"].([]any)
		require.Len(t, items, 1, q)
		require.Equal(t, id, items[0].(map[string]any)["id"], q)
	}
	for _, q := range []string{"name=ngat", "name=aroha", "date_of_birth=1984-03-10", "email=other@example.org", "name=ngata&date_of_birth=1984-03-10"} {
		res := f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients?"+q, "")
		require.Empty(t, res["items"], "%s: exact matches only, no prefix search", q)
	}
	problemOf(t, f.do(&owner, http.MethodGet, "/v1/patients", ""), http.StatusBadRequest)
	problemOf(t, f.do(&owner, http.MethodGet, "/v1/patients?phone=093001234", ""), http.StatusBadRequest) // national without a country

	// Every table's every value, on either engine, holds no plaintext.
	for _, table := range []string{"patients", "chart_entries", "chart_amendments", "patient_practitioners", "charting_outbox", "audit_outbox"} {
		var rows []map[string]any
		require.NoError(t, f.db.Table(table).Find(&rows).Error)
		require.NotEmpty(t, rows, table)
		dump := fmt.Sprint(rows)
		for _, p := range plaintexts {
			require.NotContains(t, dump, p, "table %s", table)
		}
	}
	if f.db.Dialect() == store.SQLite {
		_ = f.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
		path := strings.TrimPrefix(f.dbURL, "sqlite://")
		for _, file := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(file)
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			for _, p := range plaintexts {
				require.NotContains(t, string(b), p, "file %s", file)
			}
		}
	}
}

func TestPatients_ViewsAreShapedByRole(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	a := f.signIn(authz.RolePractitioner, nil, "")
	f.ok(&a, http.StatusCreated, http.MethodPost, "/v1/patients/"+id+"/entries", `{"notes":"Initial assessment"}`)
	b := f.signIn(authz.RolePractitioner, nil, "")
	desk := f.signIn(authz.RoleFrontDesk, nil, "")
	billing := f.signIn(authz.RoleBilling, nil, "")

	cases := []struct {
		name                          string
		who                           user
		demographics, contacts, alert bool
	}{
		{"owner", owner, true, true, true},
		{"treating practitioner", a, true, true, true},
		{"other practitioner", b, true, true, false},
		{"front desk", desk, true, true, false},
		{"billing", billing, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := f.ok(&c.who, http.StatusOK, http.MethodGet, "/v1/patients/"+id, "")
			require.Equal(t, "Aroha", got["first_name"])
			require.Equal(t, "Ngata", got["last_name"])
			require.Equal(t, "1984-03-09", got["date_of_birth"])
			for _, k := range []string{"sex", "gender"} {
				_, ok := got[k]
				require.Equal(t, c.demographics, ok, k)
			}
			for _, k := range []string{"email", "phone", "address", "emergency_contact"} {
				_, ok := got[k]
				require.Equal(t, c.contacts, ok, k)
			}
			_, ok := got["alert"]
			require.Equal(t, c.alert, ok, "alert")
			if c.alert {
				require.Equal(t, "Latex allergy", got["alert"])
				require.Contains(t, got["practitioner_ids"], a.UserID)
			}
			require.Len(t, f.eventsFor(c.who, audit.PatientRead, audit.Allowed), 1)
			contactReads := f.eventsFor(c.who, audit.PatientContactRead, audit.Allowed)
			if c.contacts {
				require.Len(t, contactReads, 1)
				require.Equal(t, id, contactReads[0].PatientID)
			} else {
				require.Empty(t, contactReads, "no contact-read event when nothing was revealed")
			}
		})
	}

	t.Run("billing cannot search by contact details", func(t *testing.T) {
		problemOf(t, f.do(&billing, http.MethodGet, "/v1/patients?email=aroha.ngata%40example.org", ""), http.StatusForbidden)
		require.Len(t, f.eventsFor(billing, audit.PatientContactRead, audit.Denied), 1)
		res := f.ok(&billing, http.StatusOK, http.MethodGet, "/v1/patients?name=ngata", "")
		require.NotContains(t, fmt.Sprint(res), "example.org")
	})

	t.Run("writes need the matching grant", func(t *testing.T) {
		problemOf(t, f.do(&billing, http.MethodPatch, "/v1/patients/"+id, `{"first_name":"X"}`), http.StatusForbidden)
		problemOf(t, f.do(&a, http.MethodPatch, "/v1/patients/"+id, `{"email":"x@example.org"}`), http.StatusForbidden)
		problemOf(t, f.do(&desk, http.MethodPatch, "/v1/patients/"+id, `{"alert":"none"}`), http.StatusForbidden)
		require.Len(t, f.eventsFor(desk, audit.PatientWrite, audit.Denied), 1)
		got := f.ok(&desk, http.StatusOK, http.MethodPatch, "/v1/patients/"+id, `{"phone":"+61 2 9374 4000","preferred_name":""}`)
		require.Equal(t, "+61293744000", got["phone"])
		require.Equal(t, "", got["preferred_name"])
		require.Equal(t, "Aroha", got["first_name"], "absent fields stay")
		require.Len(t, f.eventsFor(desk, audit.PatientWrite, audit.Allowed), 1)
		res := f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients?phone=%2B61293744000", "")
		require.Len(t, res["items"], 1, "the lookup follows the change")
		res = f.ok(&desk, http.StatusOK, http.MethodGet, "/v1/patients?phone=%2B6493001234", "")
		require.Empty(t, res["items"], "the old lookup is gone")
	})
}

func TestPatients_PatientReadsOwnProfileOnly(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	mine, other := f.createPatient(owner), f.createPatient(owner)
	me := f.signIn(authz.RolePatient, nil, mine)

	got := f.ok(&me, http.StatusOK, http.MethodGet, "/v1/patients/"+mine, "")
	require.Equal(t, "aroha.ngata@example.org", got["email"], "a patient sees their own contact details")
	require.NotContains(t, got, "alert", "but not the clinical alert")
	problemOf(t, f.do(&me, http.MethodGet, "/v1/patients/"+other, ""), http.StatusForbidden)
	denied := f.eventsFor(me, audit.PatientRead, audit.Denied)
	require.Len(t, denied, 1)
	require.Equal(t, other, denied[0].PatientID)
	problemOf(t, f.do(&me, http.MethodGet, "/v1/patients?name=ngata", ""), http.StatusForbidden)
	problemOf(t, f.do(&me, http.MethodGet, "/v1/patients/"+mine+"/entries", ""), http.StatusForbidden)
}

func TestCharting_PrivacyBetweenPractitioners(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	a := f.signIn(authz.RolePractitioner, nil, "")
	b := f.signIn(authz.RolePractitioner, nil, "")
	desk := f.signIn(authz.RoleFrontDesk, nil, "")
	billing := f.signIn(authz.RoleBilling, nil, "")

	e := f.ok(&a, http.StatusCreated, http.MethodPost, "/v1/patients/"+id+"/entries", `{"notes":"Shoulder rehab, week 2"}`)
	entryID := e["id"].(string)
	draft := f.ok(&a, http.StatusCreated, http.MethodPost, "/v1/patients/"+id+"/entries", `{"notes":"Unfinished"}`)
	f.ok(&a, http.StatusOK, http.MethodPost, "/v1/entries/"+entryID+"/sign", "")
	path := "/v1/entries/" + entryID

	// The author and the owner read it.
	f.ok(&a, http.StatusOK, http.MethodGet, path, "")
	f.ok(&owner, http.StatusOK, http.MethodGet, path, "")

	// B, the front desk and billing are refused, and each refusal is audited.
	for _, u := range []user{b, desk, billing} {
		problemOf(t, f.do(&u, http.MethodGet, path, ""), http.StatusForbidden)
		problemOf(t, f.do(&u, http.MethodGet, "/v1/patients/"+id+"/entries", ""), http.StatusForbidden)
		denied := f.eventsFor(u, audit.ChartRead, audit.Denied)
		require.Len(t, denied, 2, u.Role)
	}
	denied := f.eventsFor(b, audit.ChartRead, audit.Denied)
	require.Equal(t, "chart_entry", denied[0].ResourceType)
	require.Equal(t, entryID, denied[0].ResourceID)
	require.Equal(t, id, denied[0].PatientID)
	require.Equal(t, "chart", denied[1].ResourceType)
	require.Empty(t, f.eventsFor(b, audit.ChartRead, audit.Allowed))

	// The owner names A in B's grants: B reads A's signed entries, not A's drafts.
	g := b.Grants
	g.ChartPractitioners = []string{a.UserID}
	f.regrant(&b, g)
	got := f.ok(&b, http.StatusOK, http.MethodGet, path, "")
	require.Equal(t, "Shoulder rehab, week 2", got["notes"])
	problemOf(t, f.do(&b, http.MethodGet, "/v1/entries/"+draft["id"].(string), ""), http.StatusForbidden)
	list := f.ok(&b, http.StatusOK, http.MethodGet, "/v1/patients/"+id+"/entries", "")
	require.Len(t, list["items"], 1, "signed entries of named practitioners only")
	reads := f.eventsFor(b, audit.ChartRead, audit.Allowed)
	require.Len(t, reads, 2)
	require.Equal(t, entryID, reads[0].ResourceID)
	require.Equal(t, id, reads[0].PatientID)

	// B may not change A's entry, nor amend it.
	problemOf(t, f.do(&b, http.MethodPost, path+"/amendments", `{"notes":"not mine"}`), http.StatusForbidden)
	require.Len(t, f.eventsFor(b, audit.ChartWrite, audit.Denied), 1)

	// Assigned to the patient, C reads the whole chart; unassigned, no more.
	c := f.signIn(authz.RolePractitioner, nil, "")
	problemOf(t, f.do(&c, http.MethodGet, path, ""), http.StatusForbidden)
	problemOf(t, f.do(&a, http.MethodPut, "/v1/patients/"+id+"/practitioners/"+c.UserID, ""), http.StatusForbidden)
	f.ok(&owner, http.StatusNoContent, http.MethodPut, "/v1/patients/"+id+"/practitioners/"+c.UserID, "")
	f.ok(&c, http.StatusOK, http.MethodGet, path, "")
	require.Len(t, f.eventsFor(owner, audit.UserGrantsChange, audit.Allowed), 1)
	f.ok(&owner, http.StatusNoContent, http.MethodDelete, "/v1/patients/"+id+"/practitioners/"+c.UserID, "")
	problemOf(t, f.do(&c, http.MethodGet, path, ""), http.StatusForbidden)
	problemOf(t, f.do(&owner, http.MethodDelete, "/v1/patients/"+id+"/practitioners/"+a.UserID, ""), http.StatusNotFound)

	// The owner sees every entry, drafts included.
	list = f.ok(&owner, http.StatusOK, http.MethodGet, "/v1/patients/"+id+"/entries", "")
	require.Len(t, list["items"], 2)
}

func TestEntries_SignLocksAndAmendmentsAppend(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	a := f.signIn(authz.RolePractitioner, nil, "")

	e := f.ok(&a, http.StatusCreated, http.MethodPost, "/v1/patients/"+id+"/entries",
		`{"notes":"Shoulder rehab","appointment_id":"appt-123","occurred_on":"2024-05-01","duration_minutes":45}`)
	path := "/v1/entries/" + e["id"].(string)
	require.Equal(t, "draft", e["status"])
	require.Equal(t, a.UserID, e["author_id"])

	problemOf(t, f.do(&owner, http.MethodPatch, path, `{"notes":"owner edit"}`), http.StatusForbidden) // author only
	problemOf(t, f.do(&a, http.MethodPost, path+"/amendments", `{"notes":"too early"}`), http.StatusConflict)
	edited := f.ok(&a, http.StatusOK, http.MethodPatch, path, `{"notes":"Shoulder rehab, week 2","attendees":["Wiremu Ngata"]}`)
	require.Equal(t, "2024-05-01", edited["occurred_on"], "absent fields stay")

	signed := f.ok(&a, http.StatusOK, http.MethodPost, path+"/sign", "")
	require.Equal(t, "signed", signed["status"])
	require.Equal(t, a.UserID, signed["signed_by"])
	require.NotEmpty(t, signed["signed_at"])
	require.Len(t, signed["content_sha256"], 64)
	require.Equal(t, true, signed["integrity_verified"])
	signs := f.eventsFor(a, audit.ChartSign, audit.Allowed)
	require.Len(t, signs, 1)
	require.Equal(t, signed["sign_event_id"], signs[0].ID, "the entry names the audit event that recorded its signature")
	require.Equal(t, "chart_entry", signs[0].ResourceType)
	require.Equal(t, e["id"], signs[0].ResourceID)
	require.Equal(t, id, signs[0].PatientID)

	// Locked.
	problemOf(t, f.do(&a, http.MethodPatch, path, `{"notes":"changed"}`), http.StatusConflict)
	problemOf(t, f.do(&a, http.MethodPost, path+"/sign", ""), http.StatusConflict)

	// Amendments: dated, authored, signed, in order, each chained to the last.
	f.ok(&a, http.StatusCreated, http.MethodPost, path+"/amendments", `{"notes":"Follow-up note"}`)
	amended := f.ok(&a, http.StatusCreated, http.MethodPost, path+"/amendments", `{"notes":"Second correction"}`)
	got := f.ok(&a, http.StatusOK, http.MethodGet, path, "")
	require.Equal(t, amended["amendments"], got["amendments"])
	ams := got["amendments"].([]any)
	require.Len(t, ams, 2)
	first, second := ams[0].(map[string]any), ams[1].(map[string]any)
	require.Equal(t, float64(1), first["seq"])
	require.Equal(t, "Follow-up note", first["notes"])
	require.Equal(t, float64(2), second["seq"])
	require.Equal(t, a.UserID, second["signed_by"])
	require.NotEqual(t, first["content_sha256"], second["content_sha256"])
	require.LessOrEqual(t, first["signed_at"].(string), second["signed_at"].(string))
	require.Equal(t, "Shoulder rehab, week 2", got["notes"], "the original is kept")
	require.Equal(t, signed["content_sha256"], got["content_sha256"])
	require.Equal(t, true, got["integrity_verified"])
	require.Len(t, f.eventsFor(a, audit.ChartSign, audit.Allowed), 3)

	// A stored record changed behind the service's back no longer verifies.
	require.NoError(t, f.db.Exec("UPDATE chart_amendments SET seq = 7 WHERE seq = 2").Error)
	got = f.ok(&a, http.StatusOK, http.MethodGet, path, "")
	require.Equal(t, false, got["integrity_verified"])

	// One chart.signed message, ids only.
	var rows []struct {
		ClinicID, Type, Payload string
	}
	require.NoError(t, f.db.Table("charting_outbox").Find(&rows).Error)
	require.Len(t, rows, 1)
	require.Equal(t, events.TypeChartSigned, rows[0].Type)
	var msg map[string]any
	require.NoError(t, json.Unmarshal([]byte(rows[0].Payload), &msg))
	require.Equal(t, map[string]any{
		"id": msg["id"], "type": "chart.signed", "clinic_id": f.clinicID, "entry_id": e["id"], "patient_id": id,
		"appointment_id": "appt-123", "practitioner_id": a.UserID, "signed_at": msg["signed_at"],
	}, msg)
	for _, p := range plaintexts {
		require.NotContains(t, rows[0].Payload, p)
	}
}

func TestReads_NoAuditEventNoData(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	require.NoError(t, f.db.Exec("DROP TABLE audit_outbox").Error)
	rec := f.do(&owner, http.MethodGet, "/v1/patients/"+id, "")
	problemOf(t, rec, http.StatusServiceUnavailable)
	require.NotContains(t, rec.Body.String(), "Aroha")
	rec = f.do(&owner, http.MethodGet, "/v1/patients?name=ngata", "")
	problemOf(t, rec, http.StatusServiceUnavailable)
	require.NotContains(t, rec.Body.String(), "Aroha")
}

func TestRequests_BadInputIs4xxProblem(t *testing.T) {
	f := newFixture(t)
	owner := f.signIn(authz.RoleOwner, nil, "")
	id := f.createPatient(owner)
	cases := []struct {
		method, path, body string
		status             int
		field              string
	}{
		{http.MethodPost, "/v1/patients", `{}`, 400, "first_name"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"1984-13-01"}`, 400, "date_of_birth"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"2999-01-01"}`, 400, "date_of_birth"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"1984-01-01","email":"nope"}`, 400, "email"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"1984-01-01","phone":"300 1234"}`, 400, "phone"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"1984-01-01","sex":"x"}`, 400, "sex"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"1984-01-01","address":{"country":"NZL"}}`, 400, "address.country"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A","last_name":"B","date_of_birth":"1984-01-01","emergency_contact":{"phone":"+6493001234"}}`, 400, "emergency_contact.name"},
		{http.MethodPost, "/v1/patients", `{"first_name":"` + strings.Repeat("a", 101) + `","last_name":"B","date_of_birth":"1984-01-01"}`, 400, "first_name"},
		{http.MethodPost, "/v1/patients", `{"first_name":"A\u0000","last_name":"B","date_of_birth":"1984-01-01"}`, 400, "first_name"},
		{http.MethodPost, "/v1/patients", `{"unknown":1}`, 400, "unknown"},
		{http.MethodPost, "/v1/patients", `{"first_name":1}`, 400, "first_name"},
		{http.MethodPost, "/v1/patients", `[`, 400, ""},
		{http.MethodPatch, "/v1/patients/" + id, `{"last_name":"  "}`, 400, "last_name"},
		{http.MethodGet, "/v1/patients/nope%20nope", ``, 404, ""},
		{http.MethodGet, "/v1/patients?limit=0&name=x", ``, 400, "limit"},
		{http.MethodPost, "/v1/patients/" + id + "/entries", `{}`, 400, "notes"},
		{http.MethodPost, "/v1/patients/" + id + "/entries", `{"notes":"x","duration_minutes":-1}`, 400, "duration_minutes"},
		{http.MethodPost, "/v1/patients/" + id + "/entries", `{"notes":"x","appointment_id":"has space"}`, 400, "appointment_id"},
		{http.MethodPost, "/v1/patients/" + id + "/entries", `{"notes":"x","occurred_on":"2999-01-01"}`, 400, "occurred_on"},
		{http.MethodPost, "/v1/patients/" + id + "/entries", `{"notes":"x","attendees":[""]}`, 400, "attendees"},
		{http.MethodPost, "/v1/patients/missing/entries", `{"notes":"x"}`, 404, ""},
		{http.MethodGet, "/v1/entries/missing", ``, 404, ""},
	}
	for _, c := range cases {
		p := problemOf(t, f.do(&owner, c.method, c.path, c.body), c.status)
		if c.field != "" {
			require.NotEmpty(t, p.Errors, "%s %s", c.path, c.body)
			require.Equal(t, c.field, p.Errors[0].Field, "%s %s", c.path, c.body)
		}
	}
	problemOf(t, f.do(nil, http.MethodGet, "/v1/patients/"+id, ""), http.StatusUnauthorized)
}

// fuzzBodies drives a JSON decoder with arbitrary bodies: the answer is
// never a 5xx.
func fuzzBodies(f *testing.F, path func(fx *fixture, owner user) string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	fx := newFixture(f)
	owner := fx.signIn(authz.RoleOwner, nil, "")
	p := path(fx, owner)
	f.Fuzz(func(t *testing.T, body string) {
		fx.t = t
		rec := fx.do(&owner, http.MethodPost, p, body)
		require.Less(t, rec.Code, 500, "body %q: %s", body, rec.Body.String())
	})
}

func FuzzCreatePatient(f *testing.F) {
	fuzzBodies(f, func(*fixture, user) string { return "/v1/patients" },
		patientBody, `{}`, `{"first_name":"A","last_name":"B","date_of_birth":"1984-01-01","phone":"+1"}`,
		`{"address":{"country":"ZZ"},"phone":"0"}`, `{"emergency_contact":null}`, `{"date_of_birth":"0000-00-00"}`, "\x00", `[]`)
}

func FuzzCreateEntry(f *testing.F) {
	fuzzBodies(f, func(fx *fixture, owner user) string { return "/v1/patients/" + fx.createPatient(owner) + "/entries" },
		`{"notes":"x"}`, `{"notes":"x","duration_minutes":1e9}`, `{"attendees":null}`, `{"occurred_on":"2024-02-30"}`,
		`{"notes":"\u2028","appointment_id":""}`, `{"notes":"x","attendees":["a","b"]}`)
}
