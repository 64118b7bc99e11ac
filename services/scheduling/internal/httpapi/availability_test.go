package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/service/servicetest"
)

type slotsJSON struct {
	TimeZone string `json:"time_zone"`
	Slots    []struct {
		PractitionerID string    `json:"practitioner_id"`
		LocationID     string    `json:"location_id"`
		Start          time.Time `json:"start"`
		End            time.Time `json:"end"`
		LocalStart     string    `json:"local_start"`
	} `json:"slots"`
}

// clinic is a Toronto clinic with a location, a practitioner (signed in as
// pracUser) available on Sundays 09:00-12:00 and Mondays 09:00-12:00 and
// 13:00-17:00 at the location, closed on Monday 2026-03-16; a 30-minute
// treatment bookable online and a 60-minute one that is not.
type clinic struct {
	*fixture
	owner, desk, billing, pracUser   servicetest.Caller
	location, prac, online, inClinic string
}

const weekBody = `{"weekly":[
	{"weekday":"sunday","start":"09:00","end":"12:00"},
	{"weekday":"monday","start":"09:00","end":"12:00","location_id":"LOC"},
	{"weekday":"monday","start":"13:00","end":"17:00","location_id":"LOC"}],
 "exceptions":[{"date":"2026-03-16","closed":true}]}`

func newClinic(t *testing.T) *clinic {
	f := newFixture(t)
	c := &clinic{fixture: f, owner: f.auth.SignIn(authz.RoleOwner, nil), desk: f.auth.SignIn(authz.RoleFrontDesk, nil),
		billing: f.auth.SignIn(authz.RoleBilling, nil), pracUser: f.auth.SignIn(authz.RolePractitioner, nil)}
	require.Equal(t, http.StatusOK, f.do(&c.owner, http.MethodPut, "/v1/settings", `{"time_zone":"America/Toronto"}`).Code)
	c.location = f.created(&c.owner, "/v1/locations", `{"name":"Harbour St"}`)
	c.prac = f.created(&c.owner, "/v1/practitioners", `{"user_id":"`+c.pracUser.UserID+`"}`)
	c.online = f.created(&c.owner, "/v1/treatments", `{"name":"Follow-up","duration_minutes":30,"price_cents":6500,"online_bookable":true}`)
	c.inClinic = f.created(&c.owner, "/v1/treatments", `{"name":"Assessment","duration_minutes":60,"price_cents":9500}`)
	w := f.do(&c.pracUser, http.MethodPut, "/v1/practitioners/"+c.prac+"/availability", strings.ReplaceAll(weekBody, "LOC", c.location))
	require.Equal(t, http.StatusOK, w.Code, "a practitioner sets their own availability: %s", w.Body.String())
	return c
}

func (c *clinic) slots(caller *servicetest.Caller, query string) slotsJSON {
	c.t.Helper()
	w := c.do(caller, http.MethodGet, "/v1/availability?"+query, "")
	require.Equal(c.t, http.StatusOK, w.Code, w.Body.String())
	return decode[slotsJSON](c.t, w)
}

func TestSettings_ReadWriteValidate(t *testing.T) {
	f := newFixture(t)
	owner, desk := f.auth.SignIn(authz.RoleOwner, nil), f.auth.SignIn(authz.RoleFrontDesk, nil)
	billing := f.auth.SignIn(authz.RoleBilling, nil)

	got := f.do(&desk, http.MethodGet, "/v1/settings", "")
	require.Equal(t, http.StatusOK, got.Code)
	require.JSONEq(t, `{"time_zone":"UTC","reminder_offsets_minutes":[2880,120],"reminder_channels":["email"]}`, got.Body.String(), "defaults until set")

	for _, c := range []*servicetest.Caller{&desk, &billing} {
		require.Equal(t, http.StatusForbidden, f.do(c, http.MethodPut, "/v1/settings", `{"time_zone":"America/Toronto"}`).Code)
	}
	require.Equal(t, 2, f.count(audit.SettingsChange, audit.Denied))
	for body, field := range map[string]string{
		`{"time_zone":"America/Nowhere"}`:               "time_zone",
		`{"time_zone":"Local"}`:                         "time_zone",
		`{"reminder_offsets_minutes":[2]}`:              "reminder_offsets_minutes",
		`{"reminder_offsets_minutes":[60,60]}`:          "reminder_offsets_minutes",
		`{"reminder_offsets_minutes":[-9999999999999]}`: "reminder_offsets_minutes",
		`{"reminder_channels":["fax"]}`:                 "reminder_channels",
		`{"reminder_channels":[]}`:                      "reminder_channels",
		`{"time_zone":7}`:                               "time_zone",
		`{"zone":"UTC"}`:                                "zone",
	} {
		w := f.do(&owner, http.MethodPut, "/v1/settings", body)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
		require.Equal(t, field, decode[problem.Problem](t, w).Errors[0].Field, body)
	}
	w := f.do(&owner, http.MethodPut, "/v1/settings", `{"time_zone":"America/Toronto","reminder_offsets_minutes":[1440,60],"reminder_channels":["email","sms"]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = f.do(&owner, http.MethodPut, "/v1/settings", `{"reminder_channels":["sms"]}`)
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"time_zone":"America/Toronto","reminder_offsets_minutes":[1440,60],"reminder_channels":["sms"]}`, w.Body.String(),
		"omitted fields keep their value")
	require.Equal(t, 2, f.count(audit.SettingsChange, audit.Allowed))

	offsets, channels, zone, err := f.app.ReminderSettings(t.Context(), f.auth.ClinicID)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{24 * time.Hour, time.Hour}, offsets)
	require.Equal(t, []string{"sms"}, channels)
	require.Equal(t, "America/Toronto", zone)

	patient := f.patient(uuid.NewString())
	require.Equal(t, http.StatusForbidden, f.do(&patient, http.MethodGet, "/v1/settings", "").Code)
}

func TestAvailability_PutGetAndWhoMayChangeIt(t *testing.T) {
	c := newClinic(t)
	other := c.auth.SignIn(authz.RolePractitioner, nil)
	path := "/v1/practitioners/" + c.prac + "/availability"
	got := c.do(&c.desk, http.MethodGet, path, "")
	require.Equal(t, http.StatusOK, got.Code)
	require.JSONEq(t, `{"practitioner_id":"`+c.prac+`","weekly":[
		{"weekday":"sunday","start":"09:00","end":"12:00"},
		{"weekday":"monday","start":"09:00","end":"12:00","location_id":"`+c.location+`"},
		{"weekday":"monday","start":"13:00","end":"17:00","location_id":"`+c.location+`"}],
		"exceptions":[{"date":"2026-03-16","closed":true}]}`, got.Body.String())
	require.Equal(t, http.StatusForbidden, c.do(&other, http.MethodGet, path, "").Code, "another practitioner's schedule")

	for _, caller := range []*servicetest.Caller{&other, &c.desk, &c.billing} {
		require.Equal(t, http.StatusForbidden, c.do(caller, http.MethodPut, path, `{"weekly":[]}`).Code)
	}
	require.Equal(t, http.StatusNotFound, c.do(&c.owner, http.MethodPut, "/v1/practitioners/"+uuid.NewString()+"/availability", `{}`).Code)

	for body, field := range map[string]string{
		`{"weekly":[{"weekday":"monday","start":"09:00","end":"12:00"},{"weekday":"monday","start":"11:00","end":"13:00"}]}`: "weekly[1]",
		`{"weekly":[{"weekday":"monday","start":"25:00","end":"26:00"}]}`:                                                    "weekly[0].start",
		`{"weekly":[{"weekday":"mardi","start":"09:00","end":"12:00"}]}`:                                                     "weekly[0].weekday",
		`{"weekly":[{"weekday":"monday","start":"12:00","end":"09:00"}]}`:                                                    "weekly[0].end",
		`{"weekly":[{"weekday":"monday","start":"09:00","end":"12:00","location_id":"` + uuid.NewString() + `"}]}`:           "weekly[0].location_id",
		`{"exceptions":[{"date":"2026-12-24","closed":true,"start":"09:00"}]}`:                                               "exceptions[0]",
		`{"exceptions":[{"date":"24/12/2026","closed":true}]}`:                                                               "exceptions[0].date",
		`{"exceptions":[{"date":"2026-12-24","closed":true},{"date":"2026-12-24","start":"09:00","end":"10:00"}]}`:           "exceptions[1]",
		`{"weekly":{}}`: "weekly",
	} {
		w := c.do(&c.owner, http.MethodPut, path, body)
		require.Equal(t, http.StatusBadRequest, w.Code, body)
		require.Equal(t, field, decode[problem.Problem](t, w).Errors[0].Field, body)
	}
	w := c.do(&c.owner, http.MethodPut, path, `{"weekly":[{"weekday":"Tuesday","start":"08:00","end":"24:00"}]}`)
	require.Equal(t, http.StatusOK, w.Code, "owners set anyone's: %s", w.Body.String())
	require.JSONEq(t, `{"practitioner_id":"`+c.prac+`","weekly":[{"weekday":"tuesday","start":"08:00","end":"24:00"}],"exceptions":[]}`,
		w.Body.String(), "the set is replaced")
	require.Equal(t, 7, c.count(audit.SettingsChange, audit.Allowed), "set-up: settings, location, practitioner, two treatments, availability; then this put")
}

func TestOpenTimes_DaylightSavingDaysInToronto(t *testing.T) {
	c := newClinic(t)
	path := "/v1/practitioners/" + c.prac + "/availability"
	// Both daylight-saving Sundays get an early span across 02:00 and the
	// usual 09:00-12:00.
	w := c.do(&c.pracUser, http.MethodPut, path, `{"weekly":[{"weekday":"sunday","start":"09:00","end":"12:00"}],
		"exceptions":[{"date":"2026-03-08","start":"01:00","end":"04:00"},{"date":"2026-03-08","start":"09:00","end":"12:00"},
		{"date":"2026-11-01","start":"09:00","end":"12:00"}]}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	spring := c.slots(&c.desk, "treatment_id="+c.online+"&practitioner_id="+c.prac+"&from=2026-03-08&to=2026-03-08")
	require.Equal(t, "America/Toronto", spring.TimeZone)
	var local []string
	for _, s := range spring.Slots {
		local = append(local, s.LocalStart)
		require.NotContains(t, s.LocalStart, "T02:", "02:00-03:00 does not exist on 2026-03-08")
		require.Equal(t, 30*time.Minute, s.End.Sub(s.Start))
	}
	require.Equal(t, []string{"2026-03-08T01:00:00-05:00", "2026-03-08T01:15:00-05:00", "2026-03-08T01:30:00-05:00",
		"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00", "2026-03-08T03:30:00-04:00"}, local[:7])
	require.Equal(t, "2026-03-08T09:00:00-04:00", local[7])
	require.Equal(t, time.Date(2026, 3, 8, 13, 0, 0, 0, time.UTC), spring.Slots[7].Start, "09:00 EDT is 13:00 UTC")
	require.Len(t, spring.Slots, 7+11)

	fall := c.slots(&c.desk, "treatment_id="+c.online+"&practitioner_id="+c.prac+"&from=2026-11-01&to=2026-11-01")
	require.Len(t, fall.Slots, 11)
	require.Equal(t, "2026-11-01T09:00:00-05:00", fall.Slots[0].LocalStart)
	require.Equal(t, time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC), fall.Slots[0].Start, "09:00 EST is 14:00 UTC")
}

func TestOpenTimes_BookedTimeExceptionsAndBounds(t *testing.T) {
	c := newClinic(t)
	q := "treatment_id=" + c.online + "&practitioner_id=" + c.prac
	monday := c.slots(&c.owner, q+"&from=2026-03-09&to=2026-03-09")
	require.Len(t, monday.Slots, 11+15, "09:00-11:30 and 13:00-16:30")
	require.Equal(t, c.location, monday.Slots[0].LocationID)

	booked := c.created(&c.desk, "/v1/appointments", `{"patient_id":"`+uuid.NewString()+`","practitioner_id":"`+c.prac+
		`","treatment_id":"`+c.inClinic+`","start":"2026-03-09T17:00:00Z"}`) // 13:00-14:00 EDT
	require.NotEmpty(t, booked)
	after := c.slots(&c.owner, q+"&from=2026-03-09&to=2026-03-09")
	require.Len(t, after.Slots, 11+15-4, "13:00, 13:15, 13:30 and 13:45 overlap the booking")
	require.Equal(t, "2026-03-09T14:00:00-04:00", after.Slots[11].LocalStart, "back to back with the booking")

	require.Empty(t, c.slots(&c.owner, q+"&from=2026-03-16&to=2026-03-16").Slots, "closed that day")
	require.Len(t, c.slots(&c.owner, q+"&from=2026-03-16T13:00:00Z&to=2026-03-23T13:00:00Z").Slots, 11, "one Sunday; Monday is closed")
	require.Empty(t, c.slots(&c.owner, q+"&from=2026-02-22&to=2026-03-01").Slots, "nothing before now")
	require.Len(t, c.slots(&c.owner, q+"&location_id="+c.location+"&from=2026-03-08&to=2026-03-09").Slots, 11+26-4,
		"Sunday's span is at no location in particular, so at every one")

	// Without practitioner_id, every practitioner the caller may see.
	second := c.auth.SignIn(authz.RolePractitioner, nil)
	p2 := c.created(&c.owner, "/v1/practitioners", `{"user_id":"`+second.UserID+`"}`)
	require.Equal(t, http.StatusOK, c.do(&c.owner, http.MethodPut, "/v1/practitioners/"+p2+"/availability",
		`{"weekly":[{"weekday":"sunday","start":"10:00","end":"11:00"}]}`).Code)
	all := c.slots(&c.desk, "treatment_id="+c.online+"&from=2026-03-08&to=2026-03-08")
	require.Len(t, all.Slots, 11+3)
	for i := 1; i < len(all.Slots); i++ {
		require.False(t, all.Slots[i].Start.Before(all.Slots[i-1].Start), "ordered by start")
	}
	own := c.slots(&second, "treatment_id="+c.online+"&from=2026-03-08&to=2026-03-08")
	require.Len(t, own.Slots, 3, "a practitioner sees their own schedule only")
	require.Equal(t, http.StatusForbidden, c.do(&second, http.MethodGet, "/v1/availability?"+q, "").Code)

	for query, field := range map[string]string{
		"practitioner_id=" + c.prac:                               "treatment_id",
		q + "&from=2026-03-01&to=2026-04-02":                      "to",
		q + "&from=2026-03-10&to=2026-03-09":                      "to",
		q + "&from=yesterday":                                     "from",
		q + "&to=2026-02-31":                                      "to",
		"treatment_id=" + uuid.NewString():                        "treatment_id",
		q + "&location_id=" + uuid.NewString():                    "location_id",
		"treatment_id=" + c.online + "&practitioner_id=" + "nope": "practitioner_id",
	} {
		w := c.do(&c.owner, http.MethodGet, "/v1/availability?"+query, "")
		require.Equal(t, http.StatusBadRequest, w.Code, query)
		require.Equal(t, field, decode[problem.Problem](t, w).Errors[0].Field, query)
	}
	require.Len(t, c.slots(&c.owner, q+"&from=2026-03-01&to=2026-03-31").Slots, 4*11+4*26-4, "31 days is allowed: four Sundays, four open Mondays")
}

func TestLocations_AddListAndValidate(t *testing.T) {
	f := newFixture(t)
	owner, desk := f.auth.SignIn(authz.RoleOwner, nil), f.auth.SignIn(authz.RoleFrontDesk, nil)
	require.Equal(t, http.StatusForbidden, f.do(&desk, http.MethodPost, "/v1/locations", `{"name":"Annex"}`).Code)
	for _, body := range []string{`{"name":""}`, `{"name":"two\nlines"}`, `{"name":"` + strings.Repeat("x", 201) + `"}`, `{}`} {
		require.Equal(t, http.StatusBadRequest, f.do(&owner, http.MethodPost, "/v1/locations", body).Code, body)
	}
	id := f.created(&owner, "/v1/locations", `{"name":"  Harbour St "}`)
	w := f.do(&desk, http.MethodGet, "/v1/locations", "")
	require.Equal(t, http.StatusOK, w.Code)
	got := decode[struct {
		Locations []struct{ ID, Name string } `json:"locations"`
	}](t, w)
	require.Equal(t, []struct{ ID, Name string }{{id, "Harbour St"}}, got.Locations)

	prac := f.created(&owner, "/v1/practitioners", `{"user_id":"`+uuid.NewString()+`"}`)
	treat := f.created(&owner, "/v1/treatments", `{"name":"Follow-up","duration_minutes":30}`)
	book := func(location string) *httptest.ResponseRecorder {
		return f.do(&desk, http.MethodPost, "/v1/appointments", `{"patient_id":"`+uuid.NewString()+`","practitioner_id":"`+prac+
			`","treatment_id":"`+treat+`","location_id":"`+location+`","start":"2026-12-01T21:00:00Z"}`)
	}
	w = book(uuid.NewString())
	require.Equal(t, http.StatusBadRequest, w.Code)
	require.Equal(t, "location_id", decode[problem.Problem](t, w).Errors[0].Field)
	w = book(id)
	require.Equal(t, http.StatusCreated, w.Code)
	require.Equal(t, id, decode[map[string]any](t, w)["location_id"])
}
