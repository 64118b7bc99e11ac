package app

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/authz"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/services/charting/internal/domain"
)

// Lookup kinds (the "kind" of Crypter.Lookup).
const (
	lookupEmail    = "email"
	lookupPhone    = "phone"
	lookupDOB      = "date_of_birth"
	lookupLastName = "last_name"
	lookupFullName = "full_name"
)

// PatientInput is a patient's profile as submitted. On create every field
// is taken (empty means absent); on update nil pointers leave the field as
// it is.
type PatientInput struct {
	FirstName        *string
	LastName         *string
	PreferredName    *string
	DateOfBirth      *string
	Sex              *string
	Gender           *string
	Email            *string
	Phone            *string
	Address          *domain.Address
	EmergencyContact *domain.EmergencyContact
	Alert            *string
}

// complete returns in with every nil field set to its empty value: on
// create, an absent field is an empty one (and required ones are refused).
func (in PatientInput) complete() PatientInput {
	for _, f := range []**string{&in.FirstName, &in.LastName, &in.PreferredName, &in.DateOfBirth, &in.Sex,
		&in.Gender, &in.Email, &in.Phone, &in.Alert} {
		if *f == nil {
			*f = new(string)
		}
	}
	if in.Address == nil {
		in.Address = &domain.Address{}
	}
	if in.EmergencyContact == nil {
		in.EmergencyContact = &domain.EmergencyContact{}
	}
	return in
}

// touchesContacts and touchesClinical say which grants beyond
// patient.write a change needs.
func (in PatientInput) touchesContacts() bool {
	return in.Email != nil || in.Phone != nil || in.Address != nil || in.EmergencyContact != nil
}

func (in PatientInput) touchesClinical() bool { return in.Alert != nil }

// apply validates the set fields of in and writes them to p; it returns
// the field errors.
func (in PatientInput) apply(p *domain.Patient, a *App) error {
	var f fieldErrors
	if in.FirstName != nil {
		p.FirstName = f.requiredText("first_name", *in.FirstName, maxName)
	}
	if in.LastName != nil {
		p.LastName = f.requiredText("last_name", *in.LastName, maxName)
	}
	if in.PreferredName != nil {
		p.PreferredName = f.optionalText("preferred_name", *in.PreferredName, maxName, false)
	}
	if in.DateOfBirth != nil {
		p.DateOfBirth = f.birthDate("date_of_birth", *in.DateOfBirth, a.now())
	}
	if in.Sex != nil {
		if s := domain.Sex(*in.Sex); s.Valid() {
			p.Sex = s
		} else {
			f.add("sex", "must be one of female, male, intersex, unknown")
		}
	}
	if in.Gender != nil {
		p.Gender = f.optionalText("gender", *in.Gender, maxName, false)
	}
	if in.Email != nil {
		p.Email = f.email("email", *in.Email)
	}
	if in.Address != nil {
		ad := *in.Address
		p.Address = domain.Address{
			Line1:      f.optionalText("address.line1", ad.Line1, maxShort, false),
			Line2:      f.optionalText("address.line2", ad.Line2, maxShort, false),
			City:       f.optionalText("address.city", ad.City, maxShort, false),
			Region:     f.optionalText("address.region", ad.Region, maxShort, false),
			PostalCode: f.optionalText("address.postal_code", ad.PostalCode, 20, false),
			Country:    f.country("address.country", ad.Country),
		}
	}
	// National numbers are read in the patient's address country.
	if in.Phone != nil {
		p.Phone = f.phone("phone", *in.Phone, p.Address.Country)
	}
	if in.EmergencyContact != nil {
		ec := *in.EmergencyContact
		p.EmergencyContact = domain.EmergencyContact{
			Name:         f.optionalText("emergency_contact.name", ec.Name, maxShort, false),
			Phone:        f.phone("emergency_contact.phone", ec.Phone, p.Address.Country),
			Relationship: f.optionalText("emergency_contact.relationship", ec.Relationship, maxName, false),
		}
		if !p.EmergencyContact.IsZero() && p.EmergencyContact.Name == "" {
			f.add("emergency_contact.name", "is required with an emergency contact")
		}
	}
	if in.Alert != nil {
		p.Alert = f.optionalText("alert", *in.Alert, maxAlert, true)
	}
	return f.err()
}

// lookups computes the patient's search lookups from its values.
func (a *App) lookups(ctx context.Context, p *domain.Patient) error {
	l := domain.Lookups{}
	var err error
	lookup := func(kind, v string) string {
		if v == "" || err != nil {
			return ""
		}
		var s string
		s, err = a.d.Crypter.Lookup(ctx, p.ClinicID, kind, v)
		return s
	}
	l.Email = lookup(lookupEmail, p.Email)
	l.Phone = lookup(lookupPhone, p.Phone)
	l.DOB = lookup(lookupDOB, p.DateOfBirth)
	if last, ok := fieldcrypt.NormalizeName(p.LastName); ok {
		l.LastName = lookup(lookupLastName, last)
	}
	if full, ok := fieldcrypt.NormalizeName(p.FirstName + " " + p.LastName); ok {
		l.FullName = lookup(lookupFullName, full)
	}
	if err != nil {
		return fmt.Errorf("patient lookups: %w", err)
	}
	p.Lookups = l
	return nil
}

// PatientView is a patient as one caller may see it: fields the caller may
// not see are zeroed, and the flags say which groups are present.
type PatientView struct {
	Patient domain.Patient
	// Demographics: sex and gender (with contact or chart access).
	Demographics bool
	// Contacts: e-mail, phone, address, emergency contact.
	Contacts bool
	// Clinical: the alert and the patient's practitioners.
	Clinical      bool
	Practitioners []string
}

// view shapes p for caller c.
func view(c authz.Principal, p domain.Patient, practitioners []string) PatientView {
	v := PatientView{
		Contacts: canSeeContacts(c, p.ID),
		Clinical: canSeeClinical(c, p.ID, practitioners),
	}
	v.Demographics = v.Contacts || v.Clinical
	out := domain.Patient{
		ID: p.ID, ClinicID: p.ClinicID, FirstName: p.FirstName, LastName: p.LastName,
		PreferredName: p.PreferredName, DateOfBirth: p.DateOfBirth, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if v.Demographics {
		out.Sex, out.Gender = p.Sex, p.Gender
	}
	if v.Contacts {
		out.Email, out.Phone, out.Address, out.EmergencyContact = p.Email, p.Phone, p.Address, p.EmergencyContact
	}
	if v.Clinical {
		out.Alert = p.Alert
		v.Practitioners = practitioners
	}
	v.Patient = out
	return v
}

// reads are the audit events of showing v.
func (v PatientView) reads() []readEvent {
	t := patientTarget(v.Patient.ID)
	r := []readEvent{{audit.PatientRead, t}}
	if v.Contacts {
		r = append(r, readEvent{audit.PatientContactRead, t})
	}
	if v.Clinical {
		r = append(r, readEvent{audit.ChartRead, t})
	}
	return r
}

// authorizeChange checks the grants a change to the patient needs:
// patient.write for the profile, patient.contact.write for contact
// details, chart access to the patient for the clinical alert.
func authorizeChange(p authz.Principal, in PatientInput, patientID string, practitioners []string) error {
	if err := authorize(p, authz.ActionPatientWrite, authz.Resource{PatientID: patientID}); err != nil {
		return err
	}
	if in.touchesContacts() {
		if err := authorize(p, authz.ActionPatientContactWrite, authz.Resource{PatientID: patientID}); err != nil {
			return err
		}
	}
	if in.touchesClinical() && !canSeeClinical(p, patientID, practitioners) {
		return fmt.Errorf("patient alert: no chart access to the patient: %w", domain.ErrForbidden)
	}
	return nil
}

// CreatePatient adds a patient to the caller's clinic. It needs
// patient.write, patient.contact.write when contact details are given and
// chart access to all patients for an alert (a new patient has no
// practitioners yet).
func (a *App) CreatePatient(ctx context.Context, c authz.Principal, in PatientInput, meta RequestMeta) (PatientView, error) {
	id := uuid.Must(uuid.NewV7()).String()
	if err := authorizeChange(c, in, "", nil); err != nil {
		return PatientView{}, a.refused(ctx, c, audit.PatientWrite, target{Type: "patient"}, meta, err)
	}
	in = in.complete()
	now := a.now()
	p := domain.Patient{ID: id, ClinicID: c.ClinicID, CreatedBy: c.UserID, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&p, a); err != nil {
		return PatientView{}, err
	}
	if err := a.ensureKeys(ctx, c.ClinicID); err != nil {
		return PatientView{}, err
	}
	if err := a.lookups(ctx, &p); err != nil {
		return PatientView{}, err
	}
	ev, err := a.newEvent(ctx, c, audit.PatientWrite, audit.Allowed, patientTarget(id), meta)
	if err != nil {
		return PatientView{}, err
	}
	if err := a.d.Store.CreatePatient(ctx, p, ev); err != nil {
		return PatientView{}, err
	}
	return view(c, p, nil), nil
}

// GetPatient returns the patient as the caller may see them, after
// recording the reads (patient.read, and patient.contact.read or
// chart.read for what the view reveals).
func (a *App) GetPatient(ctx context.Context, c authz.Principal, id string, meta RequestMeta) (PatientView, error) {
	if !audit.ValidID(id) {
		return PatientView{}, domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionPatientRead, authz.Resource{PatientID: id}); err != nil {
		return PatientView{}, a.refused(ctx, c, audit.PatientRead, patientTarget(id), meta, err)
	}
	p, err := a.live(ctx, c.ClinicID, id)
	if err != nil {
		return PatientView{}, err
	}
	pr, err := a.d.Store.Practitioners(ctx, c.ClinicID, id)
	if err != nil {
		return PatientView{}, err
	}
	v := view(c, p, pr)
	if err := a.recordReads(ctx, c, meta, v.reads()); err != nil {
		return PatientView{}, err
	}
	return v, nil
}

// UpdatePatient changes the set fields of in, with the grants each group
// needs (see CreatePatient).
func (a *App) UpdatePatient(ctx context.Context, c authz.Principal, id string, in PatientInput, meta RequestMeta) (PatientView, error) {
	if !audit.ValidID(id) {
		return PatientView{}, domain.ErrNotFound
	}
	if err := authorize(c, authz.ActionPatientWrite, authz.Resource{PatientID: id}); err != nil {
		return PatientView{}, a.refused(ctx, c, audit.PatientWrite, patientTarget(id), meta, err)
	}
	pr, err := a.d.Store.Practitioners(ctx, c.ClinicID, id)
	if err != nil {
		return PatientView{}, err
	}
	if err := authorizeChange(c, in, id, pr); err != nil {
		return PatientView{}, a.refused(ctx, c, audit.PatientWrite, patientTarget(id), meta, err)
	}
	if err := a.ensureKeys(ctx, c.ClinicID); err != nil {
		return PatientView{}, err
	}
	ev, err := a.newEvent(ctx, c, audit.PatientWrite, audit.Allowed, patientTarget(id), meta)
	if err != nil {
		return PatientView{}, err
	}
	p, err := a.d.Store.UpdatePatient(ctx, c.ClinicID, id, func(p *domain.Patient) error {
		if p.MergedInto != "" {
			return &domain.MergedError{Into: p.MergedInto}
		}
		if err := in.apply(p, a); err != nil {
			return err
		}
		p.UpdatedAt = a.now()
		return a.lookups(ctx, p)
	}, ev)
	if err != nil {
		return PatientView{}, err
	}
	return view(c, p, pr), nil
}

// PatientSearch is what a search matches; at least one field must be set.
// Name is a last name or a first and last name, matched exactly after
// normalisation (case, Unicode form and white space; accents count).
type PatientSearch struct {
	Name, Email, Phone, DateOfBirth string
	// PhoneCountry reads a national phone number (ISO 3166-1 alpha-2).
	PhoneCountry string
	After        string
	Limit        int
}

// SearchPatients finds the clinic's patients by exact, normalised e-mail,
// phone, date of birth or name, through the keyed-hash lookups (no
// plaintext is searched). Searching by e-mail or phone needs
// patient.contact.read: it would otherwise reveal contact details. Each
// patient returned is audited as a read.
func (a *App) SearchPatients(ctx context.Context, c authz.Principal, s PatientSearch, meta RequestMeta) ([]PatientView, error) {
	if err := authorize(c, authz.ActionPatientRead, authz.Resource{}); err != nil {
		return nil, a.refused(ctx, c, audit.PatientRead, target{Type: "patient"}, meta, err)
	}
	if s.Email != "" || s.Phone != "" {
		if err := authorize(c, authz.ActionPatientContactRead, authz.Resource{}); err != nil {
			return nil, a.refused(ctx, c, audit.PatientContactRead, target{Type: "patient"}, meta, err)
		}
	}
	var f fieldErrors
	q := PatientQuery{AfterID: f.id("cursor", s.After), Limit: s.Limit}
	email := f.email("email", s.Email)
	country := f.country("phone_country", s.PhoneCountry)
	phone := f.phone("phone", s.Phone, country)
	var dob string
	if s.DateOfBirth != "" {
		var ok bool
		if dob, ok = fieldcrypt.NormalizeDate(s.DateOfBirth); !ok {
			f.add("date_of_birth", "must be a date written YYYY-MM-DD")
		}
	}
	name, _ := fieldcrypt.NormalizeName(s.Name)
	if len(name) > 2*maxName+1 {
		f.add("name", "is too long")
	}
	if email == "" && phone == "" && dob == "" && name == "" && len(f) == 0 {
		f.add("name", "give at least one of name, email, phone, date_of_birth")
	}
	if q.Limit <= 0 || q.Limit > maxSearchResult {
		q.Limit = maxSearchResult
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	if err := a.ensureKeys(ctx, c.ClinicID); err != nil {
		return nil, err
	}
	var err error
	lookup := func(kind, v string) string {
		if v == "" || err != nil {
			return ""
		}
		var h string
		h, err = a.d.Crypter.Lookup(ctx, c.ClinicID, kind, v)
		return h
	}
	q.Email, q.Phone, q.DOB = lookup(lookupEmail, email), lookup(lookupPhone, phone), lookup(lookupDOB, dob)
	q.LastName, q.FullName = lookup(lookupLastName, name), lookup(lookupFullName, name)
	if err != nil {
		return nil, err
	}
	found, err := a.d.Store.SearchPatients(ctx, c.ClinicID, q)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(found))
	for i, p := range found {
		ids[i] = p.ID
	}
	prs, err := a.d.Store.PractitionersOf(ctx, c.ClinicID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]PatientView, len(found))
	var reads []readEvent
	for i, p := range found {
		out[i] = view(c, p, prs[p.ID])
		reads = append(reads, out[i].reads()...)
	}
	if err := a.recordReads(ctx, c, meta, reads); err != nil {
		return nil, err
	}
	return out, nil
}

// AssignPractitioner gives a practitioner access to the patient's whole
// chart. Only an owner or admin (authz user.manage) may; the change is
// audited as user.grants_change on the practitioner, with the patient id.
func (a *App) AssignPractitioner(ctx context.Context, c authz.Principal, patientID, userID string, meta RequestMeta) error {
	return a.changeAssignment(ctx, c, patientID, userID, meta, a.d.Store.AssignPractitioner)
}

// UnassignPractitioner removes an assignment (see AssignPractitioner).
func (a *App) UnassignPractitioner(ctx context.Context, c authz.Principal, patientID, userID string, meta RequestMeta) error {
	return a.changeAssignment(ctx, c, patientID, userID, meta, a.d.Store.UnassignPractitioner)
}

func (a *App) changeAssignment(ctx context.Context, c authz.Principal, patientID, userID string, meta RequestMeta,
	change func(ctx context.Context, clinicID, patientID, userID string, events ...audit.Event) error) error {
	if !audit.ValidID(patientID) {
		return domain.ErrNotFound
	}
	t := target{Type: "user", ID: userID, PatientID: patientID}
	if !audit.ValidID(userID) {
		t.ID = ""
	}
	if err := authorize(c, authz.ActionUserManage, authz.Resource{PatientID: patientID}); err != nil {
		return a.refused(ctx, c, audit.UserGrantsChange, t, meta, err)
	}
	var f fieldErrors
	f.id("user_id", userID)
	if err := f.err(); err != nil {
		return err
	}
	if _, err := a.live(ctx, c.ClinicID, patientID); err != nil {
		return err
	}
	ev, err := a.newEvent(ctx, c, audit.UserGrantsChange, audit.Allowed, t, meta)
	if err != nil {
		return err
	}
	return change(ctx, c.ClinicID, patientID, userID, ev)
}
