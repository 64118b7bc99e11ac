package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/havenhealth/haven/libs/authn"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/edgeauth"
	"github.com/havenhealth/haven/libs/pdfdoc"
	"github.com/havenhealth/haven/libs/problem"
	"github.com/havenhealth/haven/services/charting/internal/app"
)

// exportParams are the query parameters of the chart export.
var exportParams = map[string]bool{"entry_id": true, "practitioner_id": true}

// exportChart answers GET /v1/patients/{id}/chart.pdf?entry_id=…&entry_id=…
// (or ?practitioner_id=…) with the selected signed entries as a PDF,
// watermarked on every page with the exporter and the time.
func (a *API) exportChart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var bad []problem.FieldError
	for k := range q {
		if !exportParams[k] {
			bad = append(bad, problem.FieldError{Field: k, Reason: "is not a parameter of the export"})
		}
	}
	if len(q["practitioner_id"]) > 1 {
		bad = append(bad, problem.FieldError{Field: "practitioner_id", Reason: "may be given once"})
	}
	if len(bad) > 0 {
		problem.Write(w, r, problem.Validation(bad...))
		return
	}
	p := authn.Caller(r)
	ex, err := a.App.ExportChart(r.Context(), p, r.PathValue("id"),
		app.ExportSelection{EntryIDs: q["entry_id"], PractitionerID: q.Get("practitioner_id")}, meta(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	now := time.Now().UTC()
	exporter := p.UserID
	if a.Names != nil {
		if name := a.Names.Name(r, p); name != "" {
			exporter = name + " (user " + p.UserID + ")"
		}
	}
	var buf bytes.Buffer
	if err := pdfdoc.Render(&buf, exportDoc(ex, exporter, string(p.Role), now)); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="chart-`+ex.Patient.ID+`.pdf"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// exportDoc lays out the export: the patient, then each entry with its
// signature and amendments.
func exportDoc(ex app.Export, exporter, role string, at time.Time) pdfdoc.Doc {
	name := strings.TrimSpace(ex.Patient.FirstName + " " + ex.Patient.LastName)
	if ex.Patient.PreferredName != "" {
		name += " (" + ex.Patient.PreferredName + ")"
	}
	d := pdfdoc.Doc{
		Title:     "Chart of " + name,
		Subtitle:  fmt.Sprintf("Born %s · %d signed %s exported", ex.Patient.DateOfBirth, len(ex.Entries), plural(len(ex.Entries), "entry", "entries")),
		Watermark: fmt.Sprintf("Exported by %s, %s, on %s", exporter, role, at.Format("2006-01-02 15:04 MST")),
		Footer:    "Confidential health record · patient " + ex.Patient.ID,
	}
	for _, e := range ex.Entries {
		fields := []pdfdoc.Field{{Label: "Entry", Value: e.ID}, {Label: "Written by", Value: "user " + e.AuthorID}}
		if e.DurationMinutes != nil {
			fields = append(fields, pdfdoc.Field{Label: "Length", Value: strconv.Itoa(*e.DurationMinutes) + " minutes"})
		}
		if len(e.Attendees) > 0 {
			fields = append(fields, pdfdoc.Field{Label: "Present", Value: strings.Join(e.Attendees, ", ")})
		}
		if e.SignedAt != nil {
			fields = append(fields, pdfdoc.Field{Label: "Signed", Value: e.SignedAt.UTC().Format(time.RFC3339) + " by user " + e.SignedBy})
		}
		fields = append(fields, pdfdoc.Field{Label: "SHA-256", Value: e.ContentSHA256})
		d.Sections = append(d.Sections, pdfdoc.Section{Heading: "Entry of " + e.OccurredOn, Fields: fields, Body: e.Notes})
		for _, am := range e.Amendments {
			d.Sections = append(d.Sections, pdfdoc.Section{
				Heading: fmt.Sprintf("Amendment %d to the entry of %s", am.Seq, e.OccurredOn),
				Fields: []pdfdoc.Field{
					{Label: "Signed", Value: am.SignedAt.UTC().Format(time.RFC3339) + " by user " + am.AuthorID},
					{Label: "SHA-256", Value: am.ContentSHA256},
				},
				Body: am.Notes,
			})
		}
	}
	return d
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Names finds a user's display name for the export's watermark.
type Names interface {
	Name(r *http.Request, p authz.Principal) string
}

// IdentityNames asks the region's identity service who the caller is
// (GET /v1/me with the caller's own token, signed like the router signs), so
// that the watermark names a person, not only an id. Any failure leaves the
// name out; the export does not depend on it.
type IdentityNames struct {
	URL    string // the region's identity service
	Secret []byte // the region's edge secret
	Region string
	Client *http.Client
}

// Name implements Names.
func (n IdentityNames) Name(r *http.Request, p authz.Principal) string {
	if n.URL == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(n.URL, "/")+"/v1/me", nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	edgeauth.Sign(req, n.Secret, p.ClinicID, n.Region, time.Now())
	c := n.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return ""
	}
	defer func() { _ = resp.Body.Close() }()
	var me struct {
		User struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&me) != nil || me.User.ID != p.UserID {
		return ""
	}
	return me.User.Name
}
