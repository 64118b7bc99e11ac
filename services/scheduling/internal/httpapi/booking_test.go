package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/libs/service/servicetest"
)

type appointmentJSON struct {
	ID             string    `json:"id"`
	PatientID      string    `json:"patient_id"`
	PractitionerID string    `json:"practitioner_id"`
	TreatmentID    string    `json:"treatment_id"`
	LocationID     string    `json:"location_id"`
	Start          time.Time `json:"start"`
	End            time.Time `json:"end"`
	Status         string    `json:"status"`
}

func TestOnlineBooking_PatientBooksOwnOfferedOnlineTimesOnly(t *testing.T) {
	c := newClinic(t)
	pid := uuid.NewString()
	patient := c.patient(pid)
	book := func(caller *servicetest.Caller, body string) (int, appointmentJSON, problem.Problem) {
		w := c.do(caller, http.MethodPost, "/v1/appointments", body)
		if w.Code == http.StatusCreated {
			return w.Code, decode[appointmentJSON](t, w), problem.Problem{}
		}
		return w.Code, appointmentJSON{}, decode[problem.Problem](t, w)
	}
	body := func(extra, treatment, start string) string {
		return fmt.Sprintf(`{%s"practitioner_id":"%s","treatment_id":"%s","start":"%s"}`, extra, c.prac, treatment, start)
	}

	unlinked := c.patient("")
	for _, w := range []int{
		c.do(&unlinked, http.MethodPost, "/v1/appointments", body("", c.online, "2026-03-09T13:00:00Z")).Code,
		c.do(&unlinked, http.MethodGet, "/v1/availability?treatment_id="+c.online, "").Code,
		c.do(&unlinked, http.MethodGet, "/v1/appointments", "").Code,
		c.do(&unlinked, http.MethodGet, "/v1/treatments", "").Code,
	} {
		require.Equal(t, http.StatusForbidden, w)
	}
	code, _, p := book(&unlinked, body("", c.online, "2026-03-09T13:00:00Z"))
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, p.Detail, "not linked to a patient profile")

	treatments := decode[struct {
		Treatments []struct{ ID string } `json:"treatments"`
	}](t, c.do(&patient, http.MethodGet, "/v1/treatments", ""))
	require.Len(t, treatments.Treatments, 1, "patients see online-bookable treatments only")
	require.Equal(t, c.online, treatments.Treatments[0].ID)
	require.Len(t, decode[struct {
		Treatments []struct{ ID string } `json:"treatments"`
	}](t, c.do(&c.desk, http.MethodGet, "/v1/treatments", "")).Treatments, 2)
	require.Equal(t, http.StatusOK, c.do(&patient, http.MethodGet, "/v1/practitioners", "").Code)
	require.Equal(t, http.StatusOK, c.do(&patient, http.MethodGet, "/v1/locations", "").Code)

	w := c.do(&patient, http.MethodGet, "/v1/availability?treatment_id="+c.inClinic, "")
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Contains(t, decode[problem.Problem](t, w).Detail, "cannot be booked online")
	require.Len(t, c.slots(&patient, "treatment_id="+c.online+"&from=2026-03-09&to=2026-03-09").Slots, 26)

	code, _, _ = book(&patient, body("", c.inClinic, "2026-03-09T13:00:00Z"))
	require.Equal(t, http.StatusForbidden, code, "not bookable online")
	code, _, _ = book(&patient, body(`"patient_id":"`+uuid.NewString()+`",`, c.online, "2026-03-09T13:00:00Z"))
	require.Equal(t, http.StatusForbidden, code, "someone else's booking")
	for start, why := range map[string]string{
		"2026-03-09T13:10:00Z": "off the quarter-hour grid",
		"2026-03-09T16:30:00Z": "12:30, between the spans",
		"2026-03-07T15:00:00Z": "a Saturday",
		"2026-03-16T13:00:00Z": "a closed day",
		"2026-03-01T14:00:00Z": "in the past",
		"2026-03-09T15:45:00Z": "11:45: the half hour does not fit before 12:00",
	} {
		code, _, p := book(&patient, body("", c.online, start))
		require.Equal(t, http.StatusConflict, code, why)
		require.Contains(t, p.Detail, "not open for online booking", why)
	}

	code, ap, _ := book(&patient, body("", c.online, "2026-03-09T13:00:00Z"))
	require.Equal(t, http.StatusCreated, code, "09:00 EDT on Monday is offered")
	require.Equal(t, pid, ap.PatientID, "patient_id defaults to the caller's profile")
	require.Equal(t, c.location, ap.LocationID, "the span's location")
	code, _, _ = book(&patient, body(`"patient_id":"`+pid+`",`, c.online, "2026-03-09T13:00:00Z"))
	require.Equal(t, http.StatusConflict, code, "taken now")
	code, _, _ = book(&patient, body(`"patient_id":"`+pid+`","location_id":"`+uuid.NewString()+`",`, c.online, "2026-03-09T14:00:00Z"))
	require.Equal(t, http.StatusBadRequest, code, "an unknown location")

	// Staff book outside availability.
	code, other, _ := book(&c.desk, body(`"patient_id":"`+uuid.NewString()+`",`, c.inClinic, "2026-03-07T15:00:00Z"))
	require.Equal(t, http.StatusCreated, code)

	require.Equal(t, http.StatusOK, c.do(&patient, http.MethodGet, "/v1/appointments/"+ap.ID, "").Code)
	require.Equal(t, http.StatusForbidden, c.do(&patient, http.MethodGet, "/v1/appointments/"+other.ID, "").Code)
	require.Equal(t, http.StatusForbidden, c.do(&patient, http.MethodPost, "/v1/appointments/"+other.ID+"/cancel", "").Code)
	list := decode[struct {
		Appointments []appointmentJSON `json:"appointments"`
	}](t, c.do(&patient, http.MethodGet, "/v1/appointments?from=2026-03-01&to=2026-03-31", ""))
	require.Len(t, list.Appointments, 1, "a patient lists their own appointments only")
	require.Equal(t, ap.ID, list.Appointments[0].ID)
	require.Equal(t, http.StatusForbidden, c.do(&patient, http.MethodGet, "/v1/appointments?patient_id="+other.PatientID, "").Code)

	move := func(start string) int {
		return c.do(&patient, http.MethodPost, "/v1/appointments/"+ap.ID+"/reschedule", `{"start":"`+start+`"}`).Code
	}
	require.Equal(t, http.StatusConflict, move("2026-03-09T16:30:00Z"), "not offered")
	require.Equal(t, http.StatusOK, move("2026-03-09T13:15:00Z"), "overlapping its own old time is fine")
	require.Equal(t, http.StatusOK, move("2026-03-09T15:00:00Z"))
	require.Equal(t, http.StatusForbidden, c.do(&patient, http.MethodPost, "/v1/appointments/"+ap.ID+"/status", `{"status":"arrived"}`).Code)
	require.Equal(t, http.StatusOK, c.do(&patient, http.MethodPost, "/v1/appointments/"+ap.ID+"/cancel", "").Code)
	require.Equal(t, http.StatusConflict, c.do(&patient, http.MethodPost, "/v1/appointments/"+ap.ID+"/cancel", "").Code, "already cancelled")
	require.Equal(t, http.StatusConflict, move("2026-03-09T14:00:00Z"), "a cancelled appointment is not moved")

	var patientWrites, patientDenied int
	for _, e := range c.events() {
		if e.Actor.UserID == patient.UserID && e.Action == audit.AppointmentWrite {
			if e.Outcome == audit.Allowed {
				patientWrites++
				require.Equal(t, pid, e.PatientID)
			} else {
				patientDenied++
			}
		}
	}
	require.Equal(t, 4, patientWrites, "book, two moves, cancel")
	require.GreaterOrEqual(t, patientDenied, 4, "refusals are recorded")
}

func TestReminders_ToldAfterCommitAndRetriedUntilDone(t *testing.T) {
	c := newClinic(t)
	ctx := t.Context()
	book := func(start string) string {
		return c.created(&c.desk, "/v1/appointments", fmt.Sprintf(`{"patient_id":"%s","practitioner_id":"%s","treatment_id":"%s","start":"%s"}`,
			uuid.NewString(), c.prac, c.online, start))
	}
	first := book("2026-03-09T13:00:00Z")
	require.Equal(t, []string{"booked " + first}, c.reminders.took())
	require.Equal(t, http.StatusOK, c.do(&c.desk, http.MethodPost, "/v1/appointments/"+first+"/reschedule", `{"start":"2026-03-09T14:00:00Z"}`).Code)
	require.Equal(t, http.StatusOK, c.do(&c.desk, http.MethodPost, "/v1/appointments/"+first+"/cancel", "").Code)
	require.Equal(t, []string{"rescheduled " + first, "cancelled " + first}, c.reminders.took())

	c.reminders.setFail(true)
	second := book("2026-03-09T15:00:00Z")
	third := book("2026-03-09T17:00:00Z")
	require.Empty(t, c.reminders.took(), "the bookings stand though reminders failed")
	c.reminders.setFail(false)
	require.Equal(t, http.StatusOK, c.do(&c.desk, http.MethodPost, "/v1/appointments/"+third+"/cancel", "").Code)
	require.Equal(t, []string{"cancelled " + third}, c.reminders.took())

	require.NoError(t, c.app.SyncReminders(ctx))
	require.Empty(t, c.reminders.took(), "rows wait a minute for the immediate call")

	c.reminders.setFail(true)
	c.clock.Set(now.Add(2 * time.Minute))
	require.Error(t, c.app.SyncReminders(ctx))
	require.NoError(t, c.app.SyncReminders(ctx), "failed rows back off")
	c.reminders.setFail(false)
	c.clock.Set(now.Add(2 * time.Hour))
	require.NoError(t, c.app.SyncReminders(ctx))
	require.ElementsMatch(t, []string{"booked " + second, "cancelled " + third}, c.reminders.took(),
		"the booking that never got through is retried; the cancelled one only needs cancelling")
	c.clock.Set(now.Add(5 * time.Hour))
	require.NoError(t, c.app.SyncReminders(ctx))
	require.Empty(t, c.reminders.took(), "done rows are not retried")
}

func TestStatusListingAndBillingReadsOnly(t *testing.T) {
	c := newClinic(t)
	other := c.auth.SignIn(authz.RolePractitioner, nil)
	p2 := c.created(&c.owner, "/v1/practitioners", `{"user_id":"`+other.UserID+`"}`)
	book := func(prac, start string) string {
		return c.created(&c.desk, "/v1/appointments", fmt.Sprintf(`{"patient_id":"%s","practitioner_id":"%s","treatment_id":"%s","start":"%s"}`,
			uuid.NewString(), prac, c.online, start))
	}
	var mine []string
	for i := range 5 {
		mine = append(mine, book(c.prac, fmt.Sprintf("2026-03-10T%02d:00:00Z", 13+i)))
	}
	theirs := book(p2, "2026-03-10T13:00:00Z")

	status := func(caller *servicetest.Caller, id, st string) int {
		return c.do(caller, http.MethodPost, "/v1/appointments/"+id+"/status", `{"status":"`+st+`"}`).Code
	}
	require.Equal(t, http.StatusOK, status(&c.desk, mine[0], "arrived"))
	require.Equal(t, http.StatusOK, status(&c.pracUser, mine[0], "completed"))
	require.Equal(t, http.StatusForbidden, status(&c.pracUser, theirs, "completed"))
	require.Equal(t, http.StatusBadRequest, status(&c.desk, mine[1], "cancelled"), "cancel has its own endpoint")
	require.Equal(t, http.StatusBadRequest, status(&c.desk, mine[1], "booked"))
	require.Equal(t, http.StatusNotFound, status(&c.desk, uuid.NewString(), "arrived"))
	require.Equal(t, http.StatusOK, c.do(&c.desk, http.MethodPost, "/v1/appointments/"+mine[4]+"/cancel", "").Code)
	require.Equal(t, http.StatusConflict, status(&c.desk, mine[4], "no_show"))
	got := decode[appointmentJSON](t, c.do(&c.desk, http.MethodGet, "/v1/appointments/"+mine[0], ""))
	require.Equal(t, "completed", got.Status)

	// The billing role reads appointments and changes none.
	for _, req := range [][3]string{
		{http.MethodPost, "/v1/appointments/" + mine[1] + "/status", `{"status":"arrived"}`},
		{http.MethodPost, "/v1/appointments/" + mine[1] + "/reschedule", `{"start":"2026-03-11T13:00:00Z"}`},
		{http.MethodPost, "/v1/appointments/" + mine[1] + "/cancel", ""},
		{http.MethodPost, "/v1/appointments", `{"patient_id":"p","practitioner_id":"` + c.prac + `","treatment_id":"` + c.online + `","start":"2026-03-11T13:00:00Z"}`},
		{http.MethodPut, "/v1/settings", `{"time_zone":"UTC"}`},
		{http.MethodPost, "/v1/locations", `{"name":"Annex"}`},
		{http.MethodPost, "/v1/treatments", `{"name":"Massage","duration_minutes":60}`},
		{http.MethodPut, "/v1/practitioners/" + c.prac + "/availability", `{}`},
	} {
		require.Equal(t, http.StatusForbidden, c.do(&c.billing, req[0], req[1], req[2]).Code, req[1])
	}
	require.Equal(t, http.StatusOK, c.do(&c.billing, http.MethodGet, "/v1/appointments/"+mine[1], "").Code)

	list := func(caller *servicetest.Caller, query string) (int, []appointmentJSON, string) {
		w := c.do(caller, http.MethodGet, "/v1/appointments?"+query, "")
		if w.Code != http.StatusOK {
			return w.Code, nil, ""
		}
		out := decode[struct {
			Appointments []appointmentJSON `json:"appointments"`
			NextCursor   string            `json:"next_cursor"`
		}](t, w)
		return w.Code, out.Appointments, out.NextCursor
	}
	reads := c.count(audit.AppointmentRead, audit.Allowed)
	code, all, _ := list(&c.billing, "from=2026-03-10&to=2026-03-10")
	require.Equal(t, http.StatusOK, code)
	require.Len(t, all, 6)
	require.Equal(t, reads+6, c.count(audit.AppointmentRead, audit.Allowed), "each listed appointment is recorded as read")
	_, own, _ := list(&c.pracUser, "from=2026-03-10&to=2026-03-10")
	require.Len(t, own, 5, "a practitioner lists their own diary")
	code, _, _ = list(&c.pracUser, "practitioner_id="+p2+"&from=2026-03-10")
	require.Equal(t, http.StatusForbidden, code)
	_, byP2, _ := list(&c.desk, "practitioner_id="+p2+"&from=2026-03-10")
	require.Equal(t, []string{theirs}, []string{byP2[0].ID})
	_, none, _ := list(&c.desk, "")
	require.Empty(t, none, "today (2026-03-01) has none")

	var paged []string
	cursor := ""
	for range 4 {
		code, page, next := list(&c.desk, "from=2026-03-10T00:00:00Z&to=2026-03-11T00:00:00Z&limit=4&cursor="+cursor)
		require.Equal(t, http.StatusOK, code)
		for _, a := range page {
			paged = append(paged, a.ID)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	require.Len(t, paged, 6, "pages continue without repeats")
	for query, field := range map[string]string{
		"limit=0x": "limit", "limit=1001": "limit", "cursor=***": "cursor", "cursor=bm9wZQ": "cursor",
		"from=2026-01-01&to=2026-06-01": "to", "patient_id=a%20b": "patient_id", "practitioner_id=" + uuid.NewString(): "practitioner_id",
	} {
		w := c.do(&c.desk, http.MethodGet, "/v1/appointments?"+query, "")
		require.Equal(t, http.StatusBadRequest, w.Code, query)
		require.Equal(t, field, decode[problem.Problem](t, w).Errors[0].Field, query)
	}
}

func TestChartsOutstanding_UntilAChartIsSigned(t *testing.T) {
	c := newClinic(t)
	other := c.auth.SignIn(authz.RolePractitioner, nil)
	p2 := c.created(&c.owner, "/v1/practitioners", `{"user_id":"`+other.UserID+`"}`)
	book := func(prac, start string) string {
		return c.created(&c.desk, "/v1/appointments", fmt.Sprintf(`{"patient_id":"%s","practitioner_id":"%s","treatment_id":"%s","start":"%s"}`,
			uuid.NewString(), prac, c.online, start))
	}
	a1, a2 := book(c.prac, "2026-02-27T14:00:00Z"), book(c.prac, "2026-02-27T15:00:00Z")
	noShow, cancelled := book(c.prac, "2026-02-27T16:00:00Z"), book(c.prac, "2026-02-27T17:00:00Z")
	b1 := book(p2, "2026-02-27T14:00:00Z")
	book(c.prac, "2026-03-01T16:45:00Z") // ends 17:15, after now
	require.Equal(t, http.StatusOK, c.do(&c.desk, http.MethodPost, "/v1/appointments/"+noShow+"/status", `{"status":"no_show"}`).Code)
	require.Equal(t, http.StatusOK, c.do(&c.desk, http.MethodPost, "/v1/appointments/"+cancelled+"/cancel", "").Code)

	type groups struct {
		Total        int `json:"total"`
		Practitioner []struct {
			PractitionerID string            `json:"practitioner_id"`
			Count          int               `json:"count"`
			Appointments   []appointmentJSON `json:"appointments"`
		} `json:"practitioners"`
	}
	outstanding := func(caller *servicetest.Caller, query string) groups {
		w := c.do(caller, http.MethodGet, "/v1/charts-outstanding?"+query, "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		return decode[groups](t, w)
	}
	all := outstanding(&c.owner, "")
	require.Equal(t, 3, all.Total)
	counts := map[string]int{}
	for _, g := range all.Practitioner {
		counts[g.PractitionerID] = g.Count
	}
	require.Equal(t, map[string]int{c.prac: 2, p2: 1}, counts)
	mine := outstanding(&c.pracUser, "")
	require.Len(t, mine.Practitioner, 1)
	require.Equal(t, []string{a1, a2}, []string{mine.Practitioner[0].Appointments[0].ID, mine.Practitioner[0].Appointments[1].ID})
	require.Equal(t, 1, outstanding(&c.owner, "practitioner_id="+p2).Total)
	for _, caller := range []*servicetest.Caller{&c.desk, &c.billing} {
		require.Equal(t, http.StatusForbidden, c.do(caller, http.MethodGet, "/v1/charts-outstanding", "").Code)
	}
	require.Equal(t, http.StatusForbidden, c.do(&c.pracUser, http.MethodGet, "/v1/charts-outstanding?practitioner_id="+p2, "").Code)
	patient := c.patient(uuid.NewString())
	require.Equal(t, http.StatusForbidden, c.do(&patient, http.MethodGet, "/v1/charts-outstanding", "").Code)
	require.Equal(t, http.StatusBadRequest, c.do(&c.owner, http.MethodGet, "/v1/charts-outstanding?practitioner_id="+uuid.NewString(), "").Code)

	require.NoError(t, c.app.ChartSigned(t.Context(), c.auth.ClinicID, a1, uuid.NewString(), now))
	require.NoError(t, c.app.ChartSigned(t.Context(), c.auth.ClinicID, b1, uuid.NewString(), now))
	all = outstanding(&c.owner, "")
	require.Equal(t, 1, all.Total)
	require.Equal(t, a2, all.Practitioner[0].Appointments[0].ID)
}
