// Package store is charting's gorm implementation of app.Store.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/libs/fieldcrypt"
	"github.com/havenhealth/haven/libs/store"
	"github.com/havenhealth/haven/services/charting/internal/app"
	"github.com/havenhealth/haven/services/charting/internal/domain"
	"github.com/havenhealth/haven/services/charting/internal/events"
)

// Store persists charting's records. Personal fields (names, date of birth,
// sex, gender, contact details, alerts, notes, attendees) are
// fieldcrypt.String columns, encrypted under the clinic's key by the gorm
// serializer, so this package never writes plaintext.
type Store struct {
	db      *store.DB
	crypter *fieldcrypt.Crypter
}

// New wraps an opened, migrated database and the region's field crypter.
func New(db *store.DB, crypter *fieldcrypt.Crypter) *Store { return &Store{db: db, crypter: crypter} }

var _ app.Store = (*Store)(nil)

// with puts the crypter where the serializer looks for it.
func (s *Store) with(ctx context.Context) *gorm.DB {
	return s.db.WithContext(fieldcrypt.WithCrypter(ctx, s.crypter))
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return domain.ErrNotFound
	}
	return err
}

// write runs fn in one transaction and, once fn succeeded, records events in
// the same transaction: the events commit with the change or not at all.
func (s *Store) write(ctx context.Context, evs []audit.Event, fn func(tx *gorm.DB) error) error {
	return audit.Write(s.with(ctx), evs, fn)
}

// RecordAudit implements app.Store: the events of a read or a refusal, in
// one transaction.
func (s *Store) RecordAudit(ctx context.Context, evs ...audit.Event) error {
	return s.write(ctx, evs, func(*gorm.DB) error { return nil })
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// jsonField encodes v for an encrypted JSON column; the zero value is "".
func jsonField(v any, zero bool) fieldcrypt.String {
	if zero {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Structs of strings and string slices: encoding cannot fail.
		panic("charting store: encode: " + err.Error())
	}
	return fieldcrypt.String(b)
}

func fromJSON(s fieldcrypt.String, dst any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return fmt.Errorf("decode stored %T: %w", dst, err)
	}
	return nil
}

// patientRow is a row of patients.
type patientRow struct {
	ID               string `gorm:"primaryKey"`
	ClinicID         string
	FirstName        fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	LastName         fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	PreferredName    fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	DateOfBirth      fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Sex              fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Gender           fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Email            fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Phone            fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Address          fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	EmergencyContact fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Alert            fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	EmailLookup      *string
	PhoneLookup      *string
	DOBLookup        string `gorm:"column:dob_lookup"`
	LastNameLookup   string
	FullNameLookup   string
	CreatedBy        string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	MergedInto       *string
	MergedAt         *time.Time
}

func (patientRow) TableName() string { return "patients" }

func patientToDB(p domain.Patient) patientRow {
	return patientRow{
		ID: p.ID, ClinicID: p.ClinicID, FirstName: fieldcrypt.String(p.FirstName), LastName: fieldcrypt.String(p.LastName),
		PreferredName: fieldcrypt.String(p.PreferredName), DateOfBirth: fieldcrypt.String(p.DateOfBirth),
		Sex: fieldcrypt.String(p.Sex), Gender: fieldcrypt.String(p.Gender), Email: fieldcrypt.String(p.Email),
		Phone: fieldcrypt.String(p.Phone), Address: jsonField(p.Address, p.Address.IsZero()),
		EmergencyContact: jsonField(p.EmergencyContact, p.EmergencyContact.IsZero()), Alert: fieldcrypt.String(p.Alert),
		EmailLookup: optional(p.Lookups.Email), PhoneLookup: optional(p.Lookups.Phone), DOBLookup: p.Lookups.DOB,
		LastNameLookup: p.Lookups.LastName, FullNameLookup: p.Lookups.FullName,
		CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
		MergedInto: optional(p.MergedInto), MergedAt: p.MergedAt,
	}
}

func patientToDomain(r patientRow) (domain.Patient, error) {
	p := domain.Patient{
		ID: r.ID, ClinicID: r.ClinicID, FirstName: string(r.FirstName), LastName: string(r.LastName),
		PreferredName: string(r.PreferredName), DateOfBirth: string(r.DateOfBirth), Sex: domain.Sex(r.Sex),
		Gender: string(r.Gender), Email: string(r.Email), Phone: string(r.Phone), Alert: string(r.Alert),
		Lookups: domain.Lookups{Email: deref(r.EmailLookup), Phone: deref(r.PhoneLookup), DOB: r.DOBLookup,
			LastName: r.LastNameLookup, FullName: r.FullNameLookup},
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		MergedInto: deref(r.MergedInto), MergedAt: r.MergedAt,
	}
	if err := fromJSON(r.Address, &p.Address); err != nil {
		return domain.Patient{}, err
	}
	if err := fromJSON(r.EmergencyContact, &p.EmergencyContact); err != nil {
		return domain.Patient{}, err
	}
	return p, nil
}

// CreatePatient implements app.Store.
func (s *Store) CreatePatient(ctx context.Context, p domain.Patient, evs ...audit.Event) error {
	r := patientToDB(p)
	err := s.write(ctx, evs, func(tx *gorm.DB) error { return tx.Create(&r).Error })
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("patient %s exists: %w", p.ID, domain.ErrConflict)
	}
	return err
}

// Patient implements app.Store.
func (s *Store) Patient(ctx context.Context, clinicID, id string) (domain.Patient, error) {
	var r patientRow
	if err := s.with(ctx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Patient{}, notFound(err)
	}
	return patientToDomain(r)
}

// UpdatePatient implements app.Store.
func (s *Store) UpdatePatient(ctx context.Context, clinicID, id string, fn func(*domain.Patient) error, evs ...audit.Event) (domain.Patient, error) {
	var out domain.Patient
	err := s.write(ctx, evs, func(tx *gorm.DB) error {
		var r patientRow
		if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
			return notFound(err)
		}
		p, err := patientToDomain(r)
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
		nr := patientToDB(p)
		if err := tx.Save(&nr).Error; err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}

// SearchPatients implements app.Store.
func (s *Store) SearchPatients(ctx context.Context, clinicID string, q app.PatientQuery) ([]domain.Patient, error) {
	tx := s.with(ctx).Where("clinic_id = ? AND merged_into IS NULL", clinicID)
	if q.Email != "" {
		tx = tx.Where("email_lookup = ?", q.Email)
	}
	if q.Phone != "" {
		tx = tx.Where("phone_lookup = ?", q.Phone)
	}
	if q.DOB != "" {
		tx = tx.Where("dob_lookup = ?", q.DOB)
	}
	if q.LastName != "" || q.FullName != "" {
		tx = tx.Where("last_name_lookup = ? OR full_name_lookup = ?", q.LastName, q.FullName)
	}
	if q.AfterID != "" {
		tx = tx.Where("id > ?", q.AfterID)
	}
	var rows []patientRow
	if err := tx.Order("id").Limit(q.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("search patients: %w", err)
	}
	out := make([]domain.Patient, 0, len(rows))
	for _, r := range rows {
		p, err := patientToDomain(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// practitionerRow links a practitioner to a patient.
type practitionerRow struct {
	ClinicID       string
	PatientID      string `gorm:"primaryKey"`
	PractitionerID string `gorm:"primaryKey"`
	Reason         string
	CreatedAt      time.Time
}

func (practitionerRow) TableName() string { return "patient_practitioners" }

// Practitioners implements app.Store.
func (s *Store) Practitioners(ctx context.Context, clinicID, patientID string) ([]string, error) {
	m, err := s.PractitionersOf(ctx, clinicID, []string{patientID})
	return m[patientID], err
}

// PractitionersOf implements app.Store. A merged profile's practitioners
// are its family's: the kept profile's and those of every duplicate merged
// into it, whichever of them is asked for.
func (s *Store) PractitionersOf(ctx context.Context, clinicID string, patientIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(patientIDs))
	if len(patientIDs) == 0 {
		return out, nil
	}
	tx := s.with(ctx)
	families := make(map[string][]string, len(patientIDs)) // asked id -> family ids
	var all []string
	for _, id := range patientIDs {
		fam, err := family(tx, clinicID, id)
		if err != nil {
			return nil, err
		}
		families[id] = fam
		all = append(all, fam...)
	}
	var rows []practitionerRow
	if err := tx.Where("clinic_id = ? AND patient_id IN ?", clinicID, all).
		Order("practitioner_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("patient practitioners: %w", err)
	}
	for id, fam := range families {
		for _, r := range rows {
			if slices.Contains(fam, r.PatientID) && !slices.Contains(out[id], r.PractitionerID) {
				out[id] = append(out[id], r.PractitionerID)
			}
		}
	}
	return out, nil
}

// family returns the ids whose records belong to id's profile: the kept
// profile (id's, or the one id was merged into) and every duplicate merged
// into it.
func family(tx *gorm.DB, clinicID, id string) ([]string, error) {
	var root []patientRow
	if err := tx.Select("id", "merged_into").Where("clinic_id = ? AND id = ?", clinicID, id).Limit(1).Find(&root).Error; err != nil {
		return nil, err
	}
	keep := id
	if len(root) == 1 && root[0].MergedInto != nil {
		keep = *root[0].MergedInto
	}
	var ids []string
	if err := tx.Model(&patientRow{}).Where("clinic_id = ? AND (id = ? OR merged_into = ?)", clinicID, keep, keep).
		Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		ids = []string{id}
	}
	return ids, nil
}

// MergePatients implements app.Store: dupID becomes a tombstone of keptID
// (and so do duplicates merged into dupID before), in one transaction with
// the message and the events.
func (s *Store) MergePatients(ctx context.Context, clinicID, keptID, dupID string, at time.Time, m events.Message, evs ...audit.Event) error {
	return s.write(ctx, evs, func(tx *gorm.DB) error {
		var rows []patientRow
		if err := s.db.ForUpdate(tx).Select("id", "merged_into").Where("clinic_id = ? AND id IN ?", clinicID, []string{keptID, dupID}).
			Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) != 2 {
			return domain.ErrNotFound
		}
		for _, r := range rows {
			if r.MergedInto != nil {
				return &domain.MergedError{Into: *r.MergedInto}
			}
		}
		if err := tx.Model(&patientRow{}).Where("clinic_id = ? AND (id = ? OR merged_into = ?)", clinicID, dupID, dupID).
			Updates(map[string]any{"merged_into": keptID, "merged_at": at.UTC()}).Error; err != nil {
			return err
		}
		return events.Record(tx, m)
	})
}

// AssignPractitioner implements app.Store.
func (s *Store) AssignPractitioner(ctx context.Context, clinicID, patientID, userID string, evs ...audit.Event) error {
	return s.write(ctx, evs, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&practitionerRow{
			ClinicID: clinicID, PatientID: patientID, PractitionerID: userID, Reason: "assigned", CreatedAt: time.Now().UTC(),
		}).Error
	})
}

// UnassignPractitioner implements app.Store.
func (s *Store) UnassignPractitioner(ctx context.Context, clinicID, patientID, userID string, evs ...audit.Event) error {
	return s.write(ctx, evs, func(tx *gorm.DB) error {
		res := tx.Where("clinic_id = ? AND patient_id = ? AND practitioner_id = ? AND reason = ?", clinicID, patientID, userID, "assigned").
			Delete(&practitionerRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("no assignment of this practitioner: %w", domain.ErrNotFound)
		}
		return nil
	})
}

// entryRow is a row of chart_entries.
type entryRow struct {
	ID              string `gorm:"primaryKey"`
	ClinicID        string
	PatientID       string
	AuthorID        string
	Notes           fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	Attendees       fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	AppointmentID   *string
	OccurredOn      string
	DurationMinutes *int
	Status          string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	SignedAt        *time.Time
	SignedBy        *string
	ContentSHA256   *string `gorm:"column:content_sha256"`
	SignEventID     *string
}

func (entryRow) TableName() string { return "chart_entries" }

func entryToDB(e domain.Entry) entryRow {
	r := entryRow{
		ID: e.ID, ClinicID: e.ClinicID, PatientID: e.PatientID, AuthorID: e.AuthorID, Notes: fieldcrypt.String(e.Notes),
		Attendees: jsonField(e.Attendees, len(e.Attendees) == 0), AppointmentID: optional(e.AppointmentID),
		OccurredOn: e.OccurredOn, DurationMinutes: e.DurationMinutes, Status: string(e.Status),
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(), SignedBy: optional(e.SignedBy),
		ContentSHA256: optional(e.ContentSHA256), SignEventID: optional(e.SignEventID),
	}
	if e.SignedAt != nil {
		t := e.SignedAt.UTC()
		r.SignedAt = &t
	}
	return r
}

func entryToDomain(r entryRow) (domain.Entry, error) {
	e := domain.Entry{
		ID: r.ID, ClinicID: r.ClinicID, PatientID: r.PatientID, AuthorID: r.AuthorID, Notes: string(r.Notes),
		AppointmentID: deref(r.AppointmentID), OccurredOn: r.OccurredOn, DurationMinutes: r.DurationMinutes,
		Status: domain.EntryStatus(r.Status), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		SignedBy: deref(r.SignedBy), ContentSHA256: deref(r.ContentSHA256), SignEventID: deref(r.SignEventID),
	}
	if r.SignedAt != nil {
		t := r.SignedAt.UTC()
		e.SignedAt = &t
	}
	if err := fromJSON(r.Attendees, &e.Attendees); err != nil {
		return domain.Entry{}, err
	}
	return e, nil
}

// amendmentRow is a row of chart_amendments.
type amendmentRow struct {
	ID            string `gorm:"primaryKey"`
	ClinicID      string
	EntryID       string
	Seq           int
	AuthorID      string
	Notes         fieldcrypt.String `gorm:"serializer:fieldcrypt"`
	SignedAt      time.Time
	ContentSHA256 string `gorm:"column:content_sha256"`
	SignEventID   string
}

func (amendmentRow) TableName() string { return "chart_amendments" }

func amendmentToDomain(r amendmentRow) domain.Amendment {
	return domain.Amendment{ID: r.ID, ClinicID: r.ClinicID, EntryID: r.EntryID, Seq: r.Seq, AuthorID: r.AuthorID,
		Notes: string(r.Notes), SignedAt: r.SignedAt.UTC(), ContentSHA256: r.ContentSHA256, SignEventID: r.SignEventID}
}

// CreateEntry implements app.Store.
func (s *Store) CreateEntry(ctx context.Context, e domain.Entry, evs ...audit.Event) error {
	r := entryToDB(e)
	return s.write(ctx, evs, func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return err
		}
		// The author now treats the patient; an assignment becomes treatment.
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "patient_id"}, {Name: "practitioner_id"}},
			DoUpdates: clause.Assignments(map[string]any{"reason": "treated"}),
		}).Create(&practitionerRow{ClinicID: e.ClinicID, PatientID: e.PatientID, PractitionerID: e.AuthorID,
			Reason: "treated", CreatedAt: e.CreatedAt.UTC()}).Error
	})
}

// loadEntries reads entries and their amendments with tx.
func (s *Store) loadEntries(tx *gorm.DB, rows []entryRow) ([]domain.Entry, error) {
	out := make([]domain.Entry, len(rows))
	ids := make([]string, len(rows))
	at := make(map[string]int, len(rows))
	for i, r := range rows {
		e, err := entryToDomain(r)
		if err != nil {
			return nil, err
		}
		out[i], ids[i], at[r.ID] = e, r.ID, i
	}
	if len(ids) == 0 {
		return out, nil
	}
	var am []amendmentRow
	if err := tx.Where("entry_id IN ?", ids).Order("entry_id, seq").Find(&am).Error; err != nil {
		return nil, fmt.Errorf("load amendments: %w", err)
	}
	for _, a := range am {
		i := at[a.EntryID]
		out[i].Amendments = append(out[i].Amendments, amendmentToDomain(a))
	}
	return out, nil
}

// Entry implements app.Store.
func (s *Store) Entry(ctx context.Context, clinicID, id string) (domain.Entry, error) {
	tx := s.with(ctx)
	var r entryRow
	if err := tx.Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Entry{}, notFound(err)
	}
	es, err := s.loadEntries(tx, []entryRow{r})
	if err != nil {
		return domain.Entry{}, err
	}
	return es[0], nil
}

// Entries implements app.Store.
func (s *Store) Entries(ctx context.Context, clinicID, patientID string) ([]domain.Entry, error) {
	tx := s.with(ctx)
	fam, err := family(tx, clinicID, patientID)
	if err != nil {
		return nil, err
	}
	var rows []entryRow
	if err := tx.Where("clinic_id = ? AND patient_id IN ?", clinicID, fam).
		Order("occurred_on, created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list entries: %w", err)
	}
	return s.loadEntries(tx, rows)
}

// lockedEntry reads an entry for change, locked on PostgreSQL.
func (s *Store) lockedEntry(tx *gorm.DB, clinicID, id string) (domain.Entry, error) {
	var r entryRow
	if err := s.db.ForUpdate(tx).Where("clinic_id = ? AND id = ?", clinicID, id).Take(&r).Error; err != nil {
		return domain.Entry{}, notFound(err)
	}
	es, err := s.loadEntries(tx, []entryRow{r})
	if err != nil {
		return domain.Entry{}, err
	}
	return es[0], nil
}

// UpdateEntry implements app.Store.
func (s *Store) UpdateEntry(ctx context.Context, clinicID, id string, fn func(*domain.Entry) ([]events.Message, error),
	evs ...audit.Event) (domain.Entry, error) {
	var out domain.Entry
	err := s.write(ctx, evs, func(tx *gorm.DB) error {
		e, err := s.lockedEntry(tx, clinicID, id)
		if err != nil {
			return err
		}
		msgs, err := fn(&e)
		if err != nil {
			return err
		}
		nr := entryToDB(e)
		if err := tx.Save(&nr).Error; err != nil {
			return err
		}
		for _, m := range msgs {
			if err := events.Record(tx, m); err != nil {
				return err
			}
		}
		out = e
		return nil
	})
	return out, err
}

// AddAmendment implements app.Store.
func (s *Store) AddAmendment(ctx context.Context, clinicID, entryID string, fn func(domain.Entry) (domain.Amendment, error),
	evs ...audit.Event) (domain.Entry, error) {
	var out domain.Entry
	err := s.write(ctx, evs, func(tx *gorm.DB) error {
		e, err := s.lockedEntry(tx, clinicID, entryID)
		if err != nil {
			return err
		}
		a, err := fn(e)
		if err != nil {
			return err
		}
		r := amendmentRow{ID: a.ID, ClinicID: a.ClinicID, EntryID: a.EntryID, Seq: a.Seq, AuthorID: a.AuthorID,
			Notes: fieldcrypt.String(a.Notes), SignedAt: a.SignedAt.UTC(), ContentSHA256: a.ContentSHA256, SignEventID: a.SignEventID}
		if err := tx.Create(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return fmt.Errorf("concurrent amendment: %w", domain.ErrConflict)
			}
			return err
		}
		e.Amendments = append(e.Amendments, a)
		out = e
		return nil
	})
	return out, err
}
