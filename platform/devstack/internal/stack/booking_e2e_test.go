package stack_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/havenhealth/haven/platform/devstack/internal/stack"
)

// mail is a message as a region's mail sink shows it.
type mail struct {
	ID      string   `json:"id"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
}

// mailsTo lists what the mail sink at api received for to.
func mailsTo(t testing.TB, api, to string) []mail {
	t.Helper()
	status, _, raw := send(t, http.MethodGet, api+"/api/messages?to="+url.QueryEscape(to), "", nil)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	var out struct {
		Messages []mail `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	return out.Messages
}

// waitMail waits up to 30 s for a message to to whose text contains want.
func waitMail(t testing.TB, api, to, want string) mail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, m := range mailsTo(t, api, to) {
			if strings.Contains(m.Text, want) {
				return m
			}
		}
		require.True(t, time.Now().Before(deadline), "no message to the test address containing %q", want)
		time.Sleep(200 * time.Millisecond)
	}
}

// linkToken returns the path segment after marker in text.
func linkToken(t testing.TB, text, marker string) string {
	t.Helper()
	i := strings.Index(text, marker)
	require.GreaterOrEqual(t, i, 0, "no %s link", marker)
	return strings.FieldsFunc(text[i+len(marker):], func(r rune) bool { return r == ' ' || r == '\n' || r == '\r' || r == '.' })[0]
}

// commLog is the communication log of one patient.
func commLog(t testing.TB, base, token, patientID string) []map[string]any {
	t.Helper()
	r := callAs(t, http.MethodGet, base+"/messaging/v1/messages?patient_id="+patientID, token, nil)
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	var out []map[string]any
	list, _ := r.body["items"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any))
	}
	return out
}

// TestDevstack_BookingAndReminders is issue 8 through the router: a
// patient signs up and books online; the reminder arrives in the region's
// mail sink at its time, only for the new time after a reschedule, never
// after a cancel, and never for an opted-out patient, whose log says
// suppressed; a rejected recipient is logged failed; charts outstanding
// lists an appointment until its entry is signed.
func TestDevstack_BookingAndReminders(t *testing.T) {
	d, _, _, data := bootDevstack(t)
	router := d.manifest.RouterURL
	mailAPI := d.manifest.Regions["montreal"].MailAPI
	run := token(t)
	const ownerPW, pracPW, patientPW = "owner passphrase for booking e2e", "practitioner passphrase 91", "patient passphrase 92"

	ca := signup{country: "CA", zone: "America/Toronto", region: "montreal", slug: "book-ca-" + run,
		ownerName: "OwnerBook" + run, ownerEmail: "owner-book-" + run + "@example.org"}
	r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(ca, ownerPW))
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	base := router + "/c/" + ca.slug
	owner := signInAs(t, base, ca.ownerEmail, ownerPW)
	sched := base + "/scheduling/v1"

	// The clinic: two practitioners open all day every day, a bookable
	// treatment, and its time zone.
	practitioner := func(n string) string {
		t.Helper()
		u := callAs(t, http.MethodPost, base+"/identity/v1/users", owner, map[string]string{
			"name": "Practitioner " + n + run, "email": "prac-" + n + "-" + run + "@example.org", "role": "practitioner", "password": pracPW})
		require.Equal(t, http.StatusCreated, u.status, "%v", u.body)
		p := callAs(t, http.MethodPost, sched+"/practitioners", owner, map[string]string{"user_id": u.body["id"].(string)})
		require.Equal(t, http.StatusCreated, p.status, "%v", p.body)
		id := p.body["id"].(string)
		var weekly []map[string]string
		for _, day := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
			weekly = append(weekly, map[string]string{"weekday": day, "start": "00:00", "end": "24:00"})
		}
		a := callAs(t, http.MethodPut, sched+"/practitioners/"+id+"/availability", owner, map[string]any{"weekly": weekly})
		require.Equal(t, http.StatusOK, a.status, "%v", a.body)
		return id
	}
	p1, p2 := practitioner("one"), practitioner("two")
	tr := callAs(t, http.MethodPost, sched+"/treatments", owner, map[string]any{
		"name": "Initial consult", "duration_minutes": 15, "price_cents": 9000, "online_bookable": true})
	require.Equal(t, http.StatusCreated, tr.status, "%v", tr.body)
	treatment := tr.body["id"].(string)

	// A patient signs up online; the invitation arrives by e-mail; they
	// set a password and sign in.
	patientEmail := "patient-" + run + "@example.net"
	r = call(t, http.MethodPost, base+"/identity/v1/patient-accounts", map[string]any{
		"name": "Aroha Patient" + run, "email": patientEmail, "date_of_birth": "1990-04-02"})
	require.Equal(t, http.StatusAccepted, r.status, "%v", r.body)
	invite := linkToken(t, waitMail(t, mailAPI, patientEmail, "/invitations/").Text, "/invitations/")
	r = call(t, http.MethodPost, base+"/identity/v1/invitations/"+invite, map[string]string{"password": patientPW})
	require.Equal(t, http.StatusNoContent, r.status, "%v", r.body)
	patient := signInAs(t, base, patientEmail, patientPW)
	me := callAs(t, http.MethodGet, base+"/identity/v1/me", patient, nil)
	require.Equal(t, http.StatusOK, me.status)
	patientID, _ := me.body["user"].(map[string]any)["patient_id"].(string)
	require.NotEmpty(t, patientID, "the account is linked to its new profile")

	// The patient looks for open times. S is the first at least six
	// minutes away (clinics may remind 5 minutes ahead at the closest); reminders go k and k+15 minutes before the start, with
	// k chosen so that S-k falls 30-90 s from now. Moving an appointment
	// from S to S+15 then moves its due reminder to the same moment.
	r = callAs(t, http.MethodGet, sched+"/availability?treatment_id="+treatment+"&practitioner_id="+p1, patient, nil)
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	var start time.Time
	for _, s := range r.body["slots"].([]any) {
		st, err := time.Parse(time.RFC3339, s.(map[string]any)["start"].(string))
		require.NoError(t, err)
		if time.Until(st) >= 6*time.Minute {
			start = st
			break
		}
	}
	require.False(t, start.IsZero(), "no open time found")
	k := int((time.Until(start) - 30*time.Second) / time.Minute)
	require.GreaterOrEqual(t, k, 5)
	r = callAs(t, http.MethodPut, sched+"/settings", owner, map[string]any{
		"time_zone": "America/Toronto", "reminder_offsets_minutes": []int{k + 15, k}, "reminder_channels": []string{"email", "sms"}})
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	due := start.Add(-time.Duration(k) * time.Minute)
	later := start.Add(15 * time.Minute)

	book := func(tok string, body map[string]any) string {
		t.Helper()
		b := callAs(t, http.MethodPost, sched+"/appointments", tok, body)
		require.Equal(t, http.StatusCreated, b.status, "%v", b.body)
		return b.body["id"].(string)
	}
	// A: booked online at S, then moved to S+15.
	apptA := book(patient, map[string]any{"practitioner_id": p1, "treatment_id": treatment, "start": start.Format(time.RFC3339)})
	r = callAs(t, http.MethodPost, sched+"/appointments/"+apptA+"/reschedule", patient, map[string]string{"start": later.Format(time.RFC3339)})
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	// B: booked online at S (free again), then cancelled.
	apptB := book(patient, map[string]any{"practitioner_id": p1, "treatment_id": treatment, "start": start.Format(time.RFC3339)})
	r = callAs(t, http.MethodPost, sched+"/appointments/"+apptB+"/cancel", patient, nil)
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)

	// C: a patient the front desk opted out of e-mail, booked by staff.
	newPatient := func(first, email, phone string) string {
		t.Helper()
		c := callAs(t, http.MethodPost, base+"/charting/v1/patients", owner, map[string]any{
			"first_name": first, "last_name": "Tester" + run, "date_of_birth": "1975-01-01", "email": email, "phone": phone})
		require.Equal(t, http.StatusCreated, c.status, "%v", c.body)
		return c.body["id"].(string)
	}
	optedOutEmail := "opted-out-" + run + "@example.net"
	optedOut := newPatient("Opted", optedOutEmail, "+1 514 555 0142")
	for _, ch := range []string{"email", "sms"} {
		r = callAs(t, http.MethodPut, base+"/messaging/v1/patients/"+optedOut+"/opt-outs/"+ch, owner, nil)
		require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, r.status, "%v", r.body)
	}
	book(owner, map[string]any{"patient_id": optedOut, "practitioner_id": p2, "treatment_id": treatment, "start": start.Format(time.RFC3339)})
	// D: a patient whose mail server refuses the address, and whose SMS
	// the sink delivers and reports on.
	bounced := newPatient("Bounced", "bounced-"+run+"@bounce.invalid", "+1 514 555 0199")
	book(owner, map[string]any{"patient_id": bounced, "practitioner_id": p2, "treatment_id": treatment, "start": later.Format(time.RFC3339)})

	// At the due time exactly one reminder reaches the patient, naming the
	// new time; none for the cancelled one.
	localLater := later.In(mustZone(t, "America/Toronto")).Format("15:04")
	localStart := start.In(mustZone(t, "America/Toronto")).Format("15:04")
	reminder := waitReminder(t, mailAPI, patientEmail, due.Add(60*time.Second))
	require.Contains(t, reminder.Text, localLater, "the reminder names the new time")
	require.NotContains(t, reminder.Text, localStart+" ", "nothing about the old time")
	// Give a stray reminder for the old time or the cancelled booking time
	// to arrive, then count.
	time.Sleep(time.Until(due.Add(10 * time.Second)))
	var reminders []mail
	for _, m := range mailsTo(t, mailAPI, patientEmail) {
		if !strings.Contains(m.Text, "/invitations/") {
			reminders = append(reminders, m)
		}
	}
	require.Len(t, reminders, 1, "one reminder: the moved appointment's, none for the cancelled one")
	require.Contains(t, reminders[0].Text, "/messaging/v1/public/unsubscribe#", "every reminder carries an unsubscribe link")
	require.Empty(t, mailsTo(t, mailAPI, optedOutEmail), "nothing for an opted-out patient")

	// The communication log tells the truth.
	waitStatus := func(patientID, channel, want string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			for _, m := range commLog(t, base, owner, patientID) {
				if m["trigger"] == "reminder" && m["channel"] == channel && m["status"] == want {
					return m
				}
			}
			require.True(t, time.Now().Before(deadline), "no reminder with status %s in the log", want)
			time.Sleep(250 * time.Millisecond)
		}
	}
	delivered := waitStatus(patientID, "email", "delivered")
	require.Equal(t, "appointment_reminder", delivered["template"])
	require.NotEmpty(t, delivered["sent_at"])
	require.NotEmpty(t, delivered["delivered_at"])
	waitStatus(optedOut, "email", "suppressed")
	waitStatus(optedOut, "sms", "suppressed")
	waitStatus(patientID, "sms", "failed") // signed up without a phone number
	failed := waitStatus(bounced, "email", "failed")
	require.Nil(t, failed["sent_at"], "a rejected message is never shown as sent")
	require.Nil(t, failed["delivered_at"])
	// The SMS went through the provider's API; its history is what the
	// sink's signed status callbacks reported, through the router.
	sms := waitStatus(bounced, "sms", "delivered")
	require.NotEmpty(t, sms["provider_id"])
	var fromProvider []string
	for _, h := range sms["history"].([]any) {
		if ev := h.(map[string]any); ev["source"] == "provider" {
			fromProvider = append(fromProvider, ev["status"].(string))
		}
	}
	require.Contains(t, fromProvider, "delivered", "the delivery report came from the provider's callback: %v", sms["history"])

	// The reminder workflow's history, read through the Temporal client,
	// holds no personal data: its payloads are sealed under the region's
	// key and carry ids only.
	history := workflowHistory(t, d.manifest.Regions["montreal"], "reminder-"+apptA)
	require.NotEmpty(t, history)
	for _, needle := range []string{patientEmail, "Aroha", "Patient" + run, optedOutEmail, "5145550199", "514 555"} {
		require.NotContains(t, history, needle)
	}

	// Charts outstanding: an appointment that ended an hour ago stays
	// listed until its chart entry is signed.
	pracTok := signInAs(t, base, "prac-one-"+run+"@example.org", pracPW)
	past := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	apptE := book(owner, map[string]any{"patient_id": patientID, "practitioner_id": p1, "treatment_id": treatment, "start": past.Format(time.RFC3339)})
	outstanding := func() bool {
		r := callAs(t, http.MethodGet, sched+"/charts-outstanding", owner, nil)
		require.Equal(t, http.StatusOK, r.status, "%v", r.body)
		raw, _ := json.Marshal(r.body)
		return strings.Contains(string(raw), apptE)
	}
	require.True(t, outstanding(), "an ended appointment without a signed entry is outstanding")
	e := callAs(t, http.MethodPost, base+"/charting/v1/patients/"+patientID+"/entries", pracTok, map[string]any{
		"notes": "Seen for an initial consult.", "appointment_id": apptE})
	require.Equal(t, http.StatusCreated, e.status, "%v", e.body)
	require.Equal(t, http.StatusOK, callAs(t, http.MethodPost, base+"/charting/v1/entries/"+e.body["id"].(string)+"/sign", pracTok, nil).status)
	deadline := time.Now().Add(20 * time.Second)
	for outstanding() {
		require.True(t, time.Now().Before(deadline), "still outstanding 20 s after the entry was signed")
		time.Sleep(250 * time.Millisecond)
	}

	// Nothing of the patients left the clinic's home region.
	d.stop(t)
	for _, other := range []string{"portland", "sydney", "london"} {
		require.Empty(t, filesContaining(t, filepath.Join(data, other), patientID, patientEmail, optedOut, apptA),
			"the clinic's data stays in montreal")
	}
	require.Empty(t, filesContaining(t, data, patientEmail, optedOutEmail), "addresses are stored only encrypted")
}

// workflowHistory returns a workflow's whole history as JSON, read through
// the region's Temporal frontend without the payload codec.
func workflowHistory(t testing.TB, reg stack.Region, workflowID string) string {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: reg.Temporal, Namespace: reg.TemporalNamespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	require.NoError(t, err)
	defer c.Close()
	it := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var b strings.Builder
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		raw, err := protojson.Marshal(ev)
		require.NoError(t, err)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// waitReminder waits until by for a message to to that is not an
// invitation.
func waitReminder(t testing.TB, api, to string, by time.Time) mail {
	t.Helper()
	for {
		for _, m := range mailsTo(t, api, to) {
			if !strings.Contains(m.Text, "/invitations/") {
				return m
			}
		}
		require.True(t, time.Now().Before(by), "no reminder arrived by its time")
		time.Sleep(250 * time.Millisecond)
	}
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	require.NoError(t, err)
	return z
}
