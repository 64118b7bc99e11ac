package stack_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/havenhealth/haven/libs/pdfdoc/pdftext"
)

// squash removes all white space, so that text a PDF broke across lines
// compares equal to the text written.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

// entryView is a chart entry as the charting API answers it.
type entryView struct {
	ID                string     `json:"id"`
	PatientID         string     `json:"patient_id"`
	AuthorID          string     `json:"author_id"`
	Status            string     `json:"status"`
	Notes             string     `json:"notes"`
	SignedAt          *time.Time `json:"signed_at"`
	SignedBy          string     `json:"signed_by"`
	ContentSHA256     string     `json:"content_sha256"`
	SignEventID       string     `json:"sign_event_id"`
	IntegrityVerified bool       `json:"integrity_verified"`
	Amendments        []struct {
		ID            string    `json:"id"`
		Seq           int       `json:"seq"`
		Notes         string    `json:"notes"`
		AuthorID      string    `json:"author_id"`
		SignedBy      string    `json:"signed_by"`
		SignedAt      time.Time `json:"signed_at"`
		ContentSHA256 string    `json:"content_sha256"`
		SignEventID   string    `json:"sign_event_id"`
	} `json:"amendments"`
}

// callRaw is callAs returning the status and the body as it came.
func callRaw(t testing.TB, method, url, token string, body any) (int, []byte) {
	t.Helper()
	status, _, raw := send(t, method, url, token, body)
	return status, raw
}

func decodeEntry(t testing.TB, raw []byte) entryView {
	t.Helper()
	var e entryView
	require.NoError(t, json.Unmarshal(raw, &e), "%s", raw)
	return e
}

func TestDevstack_Charting(t *testing.T) {
	d, _, _, data := bootDevstack(t)
	router := d.manifest.RouterURL
	run := token(t)
	const ownerPW, pwA, pwB, pwBilling = "owner passphrase for the chart e2e", "practitioner A passphrase 81",
		"practitioner B passphrase 82", "billing clerk passphrase 83"

	// 1. A New Zealand clinic (home region Sydney); the owner signs in and
	// creates two practitioners and a billing clerk, who sign in.
	nz := signup{country: "NZ", zone: "Pacific/Auckland", region: "sydney", slug: "chart-nz-" + run,
		ownerName: "OwnerChart" + run, ownerEmail: "owner-chart-" + run + "@example.org"}
	r := call(t, http.MethodPost, router+"/v1/clinics", signupBody(nz, ownerPW))
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	require.Equal(t, "sydney", r.body["region"])
	base := router + "/c/" + nz.slug
	owner := signInAs(t, base, nz.ownerEmail, ownerPW)
	me := callAs(t, http.MethodGet, base+"/identity/v1/me", owner, nil)
	require.Equal(t, http.StatusOK, me.status, "%v", me.body)
	ownerID := me.body["user"].(map[string]any)["id"].(string)

	type user struct {
		id, token string
		grants    map[string]any
	}
	newUser := func(name, email, role, pw string) user {
		t.Helper()
		c := callAs(t, http.MethodPost, base+"/identity/v1/users", owner, map[string]string{
			"name": name, "email": email, "role": role, "password": pw})
		require.Equal(t, http.StatusCreated, c.status, "%s: %v", role, c.body)
		require.Equal(t, role, c.body["role"])
		return user{id: c.body["id"].(string), token: signInAs(t, base, email, pw), grants: c.body["grants"].(map[string]any)}
	}
	pracA := newUser("Practitioner A "+run, "prac-a-"+run+"@example.org", "practitioner", pwA)
	pracB := newUser("Practitioner B "+run, "prac-b-"+run+"@example.org", "practitioner", pwB)
	billing := newUser("Billing Clerk "+run, "billing-"+run+"@example.org", "billing", pwBilling)
	charting := base + "/charting/v1"

	// 2. The owner adds a patient with contact details, an address, an
	// emergency contact and a clinical alert.
	lastName := "Whaanga" + run
	email := "aroha-" + run + "@example.net"
	phoneE164 := "+6421" + phoneDigits(run)
	phoneWritten := phoneE164[:3] + " " + phoneE164[3:5] + " " + phoneE164[5:8] + " " + phoneE164[8:]
	street := "12 Karaka Street " + run
	contactName := "Mere Contact" + run
	alert := "Anaphylaxis to penicillin " + run
	created := callAs(t, http.MethodPost, charting+"/patients", owner, map[string]any{
		"first_name": "Aroha", "last_name": lastName, "date_of_birth": "1984-03-09", "email": email, "phone": phoneWritten,
		"address":           map[string]any{"line1": street, "city": "Wellington", "postal_code": "6011", "country": "NZ"},
		"emergency_contact": map[string]any{"name": contactName, "phone": "+64 4 499 1234", "relationship": "sister"},
		"alert":             alert,
	})
	require.Equal(t, http.StatusCreated, created.status, "%v", created.body)
	patientID, _ := created.body["id"].(string)
	require.NotEmpty(t, patientID)
	require.Equal(t, lastName, created.body["last_name"])
	require.Equal(t, email, created.body["email"])
	require.Equal(t, phoneE164, created.body["phone"], "stored in E.164")
	require.Equal(t, alert, created.body["alert"])

	// 3. Practitioner A writes an entry, edits the draft and signs it; the
	// signed entry is locked, and amendments are appended in order.
	notes1 := "Right knee effusion reviewed, quadriceps program started " + run
	amend1 := "Addendum one: MRI requested for meniscal tear " + run
	amend2 := "Addendum two: MRI clear, continue program " + run
	status, raw := callRaw(t, http.MethodPost, charting+"/patients/"+patientID+"/entries", pracA.token, map[string]any{"notes": "draft " + run})
	require.Equal(t, http.StatusCreated, status, "%s", raw)
	draft := decodeEntry(t, raw)
	require.Equal(t, "draft", draft.Status)
	require.Equal(t, pracA.id, draft.AuthorID)
	require.Nil(t, draft.SignedAt)
	entry1 := draft.ID
	status, raw = callRaw(t, http.MethodPatch, charting+"/entries/"+entry1, pracA.token, map[string]any{"notes": notes1})
	require.Equal(t, http.StatusOK, status, "a draft can be edited: %s", raw)
	require.Equal(t, notes1, decodeEntry(t, raw).Notes)

	beforeSign := time.Now().Add(-2 * time.Second)
	status, raw = callRaw(t, http.MethodPost, charting+"/entries/"+entry1+"/sign", pracA.token, nil)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	signed := decodeEntry(t, raw)
	require.Equal(t, "signed", signed.Status)
	require.Equal(t, pracA.id, signed.SignedBy)
	require.NotNil(t, signed.SignedAt)
	require.True(t, signed.SignedAt.After(beforeSign) && signed.SignedAt.Before(time.Now().Add(2*time.Second)), "signed_at %v", signed.SignedAt)
	require.Len(t, signed.ContentSHA256, 64)
	require.NotEmpty(t, signed.SignEventID)
	require.True(t, signed.IntegrityVerified)

	patch := callAs(t, http.MethodPatch, charting+"/entries/"+entry1, pracA.token, map[string]any{"notes": "rewritten " + run})
	require.Equal(t, http.StatusConflict, patch.status, "a signed entry is locked: %v", patch.body)
	require.Equal(t, "application/problem+json", patch.ctype)
	again := callAs(t, http.MethodPost, charting+"/entries/"+entry1+"/sign", pracA.token, nil)
	require.Equal(t, http.StatusConflict, again.status, "signing twice: %v", again.body)

	for _, n := range []string{amend1, amend2} {
		status, raw = callRaw(t, http.MethodPost, charting+"/entries/"+entry1+"/amendments", pracA.token, map[string]any{"notes": n})
		require.Equal(t, http.StatusCreated, status, "%s", raw)
	}
	status, raw = callRaw(t, http.MethodGet, charting+"/entries/"+entry1, pracA.token, nil)
	require.Equal(t, http.StatusOK, status, "%s", raw)
	got := decodeEntry(t, raw)
	require.Equal(t, notes1, got.Notes, "the signed notes are unchanged")
	require.Equal(t, "signed", got.Status)
	require.Equal(t, pracA.id, got.SignedBy)
	require.True(t, got.SignedAt.Equal(*signed.SignedAt))
	require.Equal(t, signed.ContentSHA256, got.ContentSHA256)
	require.True(t, got.IntegrityVerified)
	require.Len(t, got.Amendments, 2)
	for i, want := range []string{amend1, amend2} {
		am := got.Amendments[i]
		require.Equal(t, want, am.Notes, "amendment %d", i)
		require.Equal(t, i+1, am.Seq)
		require.Equal(t, pracA.id, am.AuthorID)
		require.Equal(t, pracA.id, am.SignedBy)
		require.False(t, am.SignedAt.IsZero())
		require.False(t, am.SignedAt.Before(*got.SignedAt), "amendment %d signed before the entry", i)
		require.Len(t, am.ContentSHA256, 64)
		require.NotEmpty(t, am.SignEventID)
	}
	require.False(t, got.Amendments[1].SignedAt.Before(got.Amendments[0].SignedAt), "amendments in order")
	require.NotEqual(t, got.Amendments[0].ContentSHA256, got.Amendments[1].ContentSHA256)

	// 4. The billing clerk sees the patient's name and date of birth, and
	// nothing of the chart, contacts or clinical alert.
	for _, path := range []string{"/entries/" + entry1, "/patients/" + patientID + "/entries"} {
		c := callAs(t, http.MethodGet, charting+path, billing.token, nil)
		require.Equal(t, http.StatusForbidden, c.status, "billing reading %s: %v", path, c.body)
		require.Equal(t, "application/problem+json", c.ctype)
	}
	bp := callAs(t, http.MethodGet, charting+"/patients/"+patientID, billing.token, nil)
	require.Equal(t, http.StatusOK, bp.status, "%v", bp.body)
	require.Equal(t, patientID, bp.body["id"])
	require.Equal(t, "Aroha", bp.body["first_name"])
	require.Equal(t, lastName, bp.body["last_name"])
	require.Equal(t, "1984-03-09", bp.body["date_of_birth"])
	for _, field := range []string{"email", "phone", "address", "emergency_contact", "alert", "practitioner_ids", "sex", "gender"} {
		require.NotContains(t, bp.body, field, "billing must not see %s", field)
	}
	require.NotContains(t, fmt.Sprint(bp.body), email)
	require.NotContains(t, fmt.Sprint(bp.body), alert)

	// 5. Practitioner B may not read A's entry until the owner grants B
	// A's charts; B's live session sees the grant without signing in again.
	for _, path := range []string{"/entries/" + entry1, "/patients/" + patientID + "/entries"} {
		c := callAs(t, http.MethodGet, charting+path, pracB.token, nil)
		require.Equal(t, http.StatusForbidden, c.status, "B reading %s before the grant: %v", path, c.body)
		require.Equal(t, "application/problem+json", c.ctype)
	}
	grants := map[string]any{}
	for k, v := range pracB.grants {
		grants[k] = v
	}
	grants["charts"] = "own"
	grants["chart_practitioners"] = []string{pracA.id}
	pr := callAs(t, http.MethodPatch, base+"/identity/v1/users/"+pracB.id, owner, map[string]any{"grants": grants})
	require.Equal(t, http.StatusOK, pr.status, "%v", pr.body)
	require.Equal(t, []any{pracA.id}, pr.body["grants"].(map[string]any)["chart_practitioners"])
	granted := time.Now()
	attempts := 0
	for {
		attempts++
		status, raw = callRaw(t, http.MethodGet, charting+"/entries/"+entry1, pracB.token, nil)
		if status == http.StatusOK {
			break
		}
		require.Equal(t, http.StatusForbidden, status, "%s", raw)
		require.Less(t, time.Since(granted), 5*time.Second, "B still refused 5 s after the grant (%d attempts)", attempts)
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("grant: B's existing session read A's entry %v after the grant, on attempt %d", time.Since(granted), attempts)
	fmt.Printf("CHART_GRANT_LIVE after=%v attempts=%d\n", time.Since(granted), attempts)
	fromB := decodeEntry(t, raw)
	require.Equal(t, notes1, fromB.Notes)
	require.Len(t, fromB.Amendments, 2)
	list := callAs(t, http.MethodGet, charting+"/patients/"+patientID+"/entries", pracB.token, nil)
	require.Equal(t, http.StatusOK, list.status, "B lists A's entries after the grant: %v", list.body)
	require.NotEmpty(t, list.body["items"])
	require.Equal(t, http.StatusForbidden, callAs(t, http.MethodPatch, charting+"/entries/"+entry1, pracB.token,
		map[string]any{"notes": "B's words " + run}).status, "a grant to read is not a grant to write")

	// 6. A signs three more entries; the owner exports two of them. The PDF
	// holds exactly those two and names its exporter.
	var picked []string
	var pdfNotes []string
	for i, n := range []string{"Export one: lumbar mobility improved " + run, "Export two: NOT TO BE EXPORTED " + run, "Export three: discharged with home exercises " + run} {
		status, raw = callRaw(t, http.MethodPost, charting+"/patients/"+patientID+"/entries", pracA.token, map[string]any{"notes": n})
		require.Equal(t, http.StatusCreated, status, "%s", raw)
		id := decodeEntry(t, raw).ID
		status, raw = callRaw(t, http.MethodPost, charting+"/entries/"+id+"/sign", pracA.token, nil)
		require.Equal(t, http.StatusOK, status, "%s", raw)
		pdfNotes = append(pdfNotes, n)
		if i != 1 {
			picked = append(picked, id)
		}
	}
	exportStart := time.Now()
	q := url.Values{"entry_id": picked}
	status, ctype, pdf := getRaw(t, charting+"/patients/"+patientID+"/chart.pdf?"+q.Encode(), owner)
	require.Equal(t, http.StatusOK, status, "%s", pdf)
	require.Equal(t, "application/pdf", ctype)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "a PDF")
	pages, err := pdftext.Pages(pdf)
	require.NoError(t, err)
	require.NotEmpty(t, pages)
	text := squash(strings.Join(pages, "\n"))
	require.Contains(t, text, squash(pdfNotes[0]))
	require.Contains(t, text, squash(pdfNotes[2]))
	require.NotContains(t, text, squash(pdfNotes[1]), "an entry not selected is not exported")
	require.NotContains(t, text, squash(notes1), "an entry not selected is not exported")
	require.Contains(t, text, squash(picked[0]))
	require.Contains(t, text, squash(picked[1]))
	require.Contains(t, text, squash(lastName))
	for i, p := range pages {
		require.Contains(t, squash(p), squash("Exported by "+nz.ownerName+" (user "+ownerID+"), owner"), "page %d's watermark", i+1)
	}
	t.Logf("export: %d-byte PDF of %d pages in %v", len(pdf), len(pages), time.Since(exportStart))
	denied := callAs(t, http.MethodGet, charting+"/patients/"+patientID+"/chart.pdf?"+q.Encode(), billing.token, nil)
	require.Equal(t, http.StatusForbidden, denied.status, "billing may not export: %v", denied.body)

	// 7. The activity report for the patient holds the signatures, reads,
	// exports and B's refused read.
	type want struct {
		what   string
		action string
		actor  string
		res    string
		denied bool
	}
	wants := []want{
		{"A signed entry 1", "chart.sign", pracA.id, entry1, false},
		{"A read entry 1", "chart.read", pracA.id, entry1, false},
		{"B refused entry 1", "chart.read", pracB.id, entry1, true},
		{"B read entry 1 after the grant", "chart.read", pracB.id, entry1, false},
		{"billing refused the chart", "chart.read", billing.id, patientID, true},
		{"owner exported the first", "chart.export", ownerID, picked[0], false},
		{"owner exported the second", "chart.export", ownerID, picked[1], false},
		{"owner wrote the patient", "patient.write", ownerID, patientID, false},
		{"billing read the patient", "patient.read", billing.id, patientID, false},
		{"billing refused the export", "chart.export", billing.id, picked[0], true},
	}
	pollStart := time.Now()
	var events []auditEvent
	var missing []string
	for {
		events = auditEvents(t, base, owner, url.Values{"patient_id": {patientID}})
		missing = missing[:0]
		for _, w := range wants {
			if len(findEvents(events, func(e auditEvent) bool {
				return e.Action == w.action && e.Actor.UserID == w.actor && e.ResourceID == w.res &&
					(e.Outcome == "denied") == w.denied
			})) == 0 {
				missing = append(missing, w.what)
			}
		}
		if len(missing) == 0 {
			break
		}
		require.Less(t, time.Since(pollStart), 15*time.Second, "the activity report lacks %v: %+v", missing, events)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("audit: %d events for the patient, all expected ones found %v after the last of them was requested", len(events), time.Since(pollStart))
	for _, e := range events {
		require.Equal(t, patientID, e.PatientID, "the patient_id filter")
	}
	exports := findEvents(events, func(e auditEvent) bool { return e.Action == "chart.export" && e.Outcome == "allowed" })
	require.Len(t, exports, 2, "one chart.export per exported entry: %+v", exports)
	signs := findEvents(events, func(e auditEvent) bool { return e.Action == "chart.sign" && e.ResourceID == entry1 })
	require.Len(t, signs, 1)
	require.Equal(t, signed.SignEventID, signs[0].ID, "sign_event_id names the chart.sign event")
	for _, am := range got.Amendments {
		require.NotEmpty(t, findEvents(events, func(e auditEvent) bool { return e.ID == am.SignEventID && e.Action == "chart.sign" }),
			"amendment %d's sign event", am.Seq)
	}

	// 8. Residency and encryption: once stopped, nothing of the patient or
	// the chart is readable in any file of the home region, and nothing of
	// the clinic at all is in the other regions.
	d.stop(t)
	require.Empty(t, processesUsing(data), "processes left behind after Ctrl-C")
	home := d.manifest.Regions["sydney"].Dir
	require.NotEmpty(t, home)
	inDB := filesContaining(t, home, patientID, entry1)
	require.NotEmpty(t, inDB, "the patient is stored in Sydney")
	require.True(t, strings.Contains(strings.Join(inDB, "\n"), filepath.Join(home, "charting.db")), "charting.db holds the patient: %v", inDB)
	secrets := []string{email, phoneE164, phoneWritten, lastName, street, contactName, alert, notes1, amend1, amend2}
	secrets = append(secrets, pdfNotes...)
	require.Empty(t, filesContaining(t, home, secrets...), "the patient or the chart readable in Sydney's files")
	for name, reg := range d.manifest.Regions {
		if name == "sydney" {
			continue
		}
		require.NotEmpty(t, reg.Dir)
		require.Empty(t, filesContaining(t, reg.Dir, append([]string{patientID, entry1, picked[0], picked[1]}, secrets...)...),
			"the clinic's chart reached %s", name)
	}
	require.Empty(t, filesContaining(t, d.manifest.GlobalDir, secrets...), "the patient or the chart in the global directory or router logs")
	require.NotContains(t, d.out.String(), lastName)
	require.NotContains(t, d.out.String(), email)
}
