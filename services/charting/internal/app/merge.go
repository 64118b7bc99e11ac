package app

import (
	"context"
	"fmt"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/services/charting/internal/domain"
	"github.com/havenhealth/haven/services/charting/internal/events"
)

// MergePatients merges the duplicate profile into the one kept (owners and
// admins: patient.write and settings.manage). The duplicate becomes a
// tombstone that redirects to the kept profile; its chart entries, forms
// and practitioners then appear under the kept profile without any signed
// record changing; a patient.merged message tells scheduling and billing
// to re-point their references; both profiles get a patient.write event.
func (a *App) MergePatients(ctx context.Context, c authz.Principal, keptID, duplicateID string, meta RequestMeta) (PatientView, error) {
	if !audit.ValidID(keptID) {
		return PatientView{}, domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionPatientWrite, authz.Resource{PatientID: keptID}); err != nil {
		return PatientView{}, a.refused(ctx, c, audit.PatientWrite, patientTarget(keptID), meta, err)
	}
	if err := authorize(c, authz.ActionSettingsManage, authz.Resource{}); err != nil {
		return PatientView{}, a.refused(ctx, c, audit.PatientWrite, patientTarget(keptID), meta,
			fmt.Errorf("merging profiles is for owners and admins: %w", err))
	}
	var bad fieldErrors
	switch {
	case !audit.ValidID(duplicateID):
		bad.add("duplicate_id", "is required: the id of the duplicate profile to merge into this one")
	case duplicateID == keptID:
		bad.add("duplicate_id", "is this profile itself")
	}
	if err := bad.err(); err != nil {
		return PatientView{}, err
	}
	now := a.now()
	m, err := events.NewPatientMerged(c.ClinicID, duplicateID, keptID, now)
	if err != nil {
		return PatientView{}, err
	}
	evKept, err := a.newEvent(ctx, c, audit.PatientWrite, audit.Allowed, patientTarget(keptID), meta)
	if err != nil {
		return PatientView{}, err
	}
	evDup, err := a.newEvent(ctx, c, audit.PatientWrite, audit.Allowed, patientTarget(duplicateID), meta)
	if err != nil {
		return PatientView{}, err
	}
	evDup.RequestID = evKept.RequestID
	if err := a.d.Store.MergePatients(ctx, c.ClinicID, keptID, duplicateID, now, m, evKept, evDup); err != nil {
		return PatientView{}, err
	}
	return a.GetPatient(ctx, c, keptID, meta)
}

// live returns the patient unless the profile was merged away.
func (a *App) live(ctx context.Context, clinicID, id string) (domain.Patient, error) {
	p, err := a.d.Store.Patient(ctx, clinicID, id)
	if err != nil {
		return domain.Patient{}, err
	}
	if p.MergedInto != "" {
		return domain.Patient{}, &domain.MergedError{Into: p.MergedInto}
	}
	return p, nil
}
