package app

import (
	"context"
	"fmt"
	"slices"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// ExportSelection is what of a patient's chart to export: the listed
// entries, or every signed entry one practitioner wrote. Exactly one is set.
type ExportSelection struct {
	EntryIDs       []string
	PractitionerID string
}

// maxExportEntries bounds one export.
const maxExportEntries = 500

// Export is a chart selection ready to render.
type Export struct {
	Patient domain.Patient
	Entries []domain.Entry
}

// ExportChart returns the selected signed entries of the patient, with
// their amendments, for a controlled export. Every entry must be one the
// caller may export (authz chart.export on the entry, as its author's or
// the patient's); a draft cannot be exported (ErrConflict). One chart.export
// event per entry, and the patient.read of the name and date of birth the
// document carries, are recorded before anything is returned; a refusal is
// audited as a denied chart.export.
func (a *App) ExportChart(ctx context.Context, c authz.Principal, patientID string, sel ExportSelection, meta RequestMeta) (Export, error) {
	if !audit.ValidID(patientID) {
		return Export{}, domain.ErrNotFound
	}
	var bad fieldErrors
	switch {
	case len(sel.EntryIDs) == 0 && sel.PractitionerID == "":
		bad.add("entry_id", "name the entries to export (entry_id, repeated) or a practitioner (practitioner_id)")
	case len(sel.EntryIDs) > 0 && sel.PractitionerID != "":
		bad.add("practitioner_id", "give either entry_id or practitioner_id, not both")
	case len(sel.EntryIDs) > maxExportEntries:
		bad.add("entry_id", fmt.Sprintf("at most %d entries per export", maxExportEntries))
	}
	for _, id := range append(slices.Clone(sel.EntryIDs), sel.PractitionerID) {
		if id != "" && !audit.ValidID(id) {
			bad.add("entry_id", "is not an id")
			break
		}
	}
	if err := bad.err(); err != nil {
		return Export{}, err
	}
	if err := authorize(c, authz.ActionPatientRead, authz.Resource{PatientID: patientID}); err != nil {
		return Export{}, a.refused(ctx, c, audit.ChartExport, chartTarget(patientID), meta, err)
	}
	p, err := a.live(ctx, c.ClinicID, patientID)
	if err != nil {
		return Export{}, err
	}
	pr, err := a.d.Store.Practitioners(ctx, c.ClinicID, patientID)
	if err != nil {
		return Export{}, err
	}
	all, err := a.d.Store.Entries(ctx, c.ClinicID, patientID)
	if err != nil {
		return Export{}, err
	}
	var picked []domain.Entry
	if sel.PractitionerID != "" {
		for _, e := range all {
			if e.AuthorID == sel.PractitionerID && e.Signed() {
				picked = append(picked, e)
			}
		}
	} else {
		for _, id := range sel.EntryIDs {
			i := slices.IndexFunc(all, func(e domain.Entry) bool { return e.ID == id })
			if i < 0 {
				bad.add("entry_id", "names an entry that is not in this patient's chart")
				return Export{}, bad.err()
			}
			if !all[i].Signed() {
				return Export{}, fmt.Errorf("entry %s is a draft; only signed entries are exported: %w", id, domain.ErrConflict)
			}
			if !slices.ContainsFunc(picked, func(e domain.Entry) bool { return e.ID == id }) {
				picked = append(picked, all[i])
			}
		}
	}
	for _, e := range picked {
		if err := authorize(c, authz.ActionChartExport, authz.Resource{OwnerUserID: e.AuthorID, PractitionerIDs: pr, PatientID: patientID}); err != nil {
			return Export{}, a.refused(ctx, c, audit.ChartExport, entryTarget(e), meta, err)
		}
	}
	if len(picked) == 0 {
		bad.add("practitioner_id", "this practitioner has no signed entries in this chart")
		return Export{}, bad.err()
	}
	reads := []readEvent{{audit.PatientRead, patientTarget(patientID)}}
	for _, e := range picked {
		reads = append(reads, readEvent{audit.ChartExport, entryTarget(e)})
	}
	if err := a.recordReads(ctx, c, meta, reads); err != nil {
		return Export{}, err
	}
	return Export{Patient: p, Entries: picked}, nil
}
