package app

import (
	"context"
	"time"

	"github.com/havenhealth/haven/libs/audit"
	"github.com/havenhealth/haven/services/charting/internal/domain"
	"github.com/havenhealth/haven/services/charting/internal/events"
)

// Store is what the use cases need from persistence.
//
// Every method that changes state takes the audit events describing the
// change and records them in the audit outbox in the same transaction, after
// the change succeeded: an event commits with its change or not at all.
// Events are built, and their client address sealed, before the call.
type Store interface {
	CreatePatient(ctx context.Context, p domain.Patient, events ...audit.Event) error
	Patient(ctx context.Context, clinicID, id string) (domain.Patient, error)
	// UpdatePatient runs fn on the patient inside one transaction.
	UpdatePatient(ctx context.Context, clinicID, id string, fn func(p *domain.Patient) error, events ...audit.Event) (domain.Patient, error)
	// SearchPatients returns the clinic's patients matching every set
	// lookup of q (name matches the last-name or the full-name lookup).
	SearchPatients(ctx context.Context, clinicID string, q PatientQuery) ([]domain.Patient, error)

	// Practitioners lists the user ids of the patient's practitioners
	// (treating and assigned), in a stable order.
	Practitioners(ctx context.Context, clinicID, patientID string) ([]string, error)
	// PractitionersOf returns Practitioners for several patients at once.
	PractitionersOf(ctx context.Context, clinicID string, patientIDs []string) (map[string][]string, error)
	// AssignPractitioner adds an assigned practitioner; assigning one
	// already linked changes nothing.
	AssignPractitioner(ctx context.Context, clinicID, patientID, userID string, events ...audit.Event) error
	// UnassignPractitioner removes an assignment; a treating practitioner
	// stays (they wrote in the chart). Absent: domain.ErrNotFound.
	UnassignPractitioner(ctx context.Context, clinicID, patientID, userID string, events ...audit.Event) error

	// CreateEntry stores a draft and makes its author a treating
	// practitioner of the patient, in one transaction.
	CreateEntry(ctx context.Context, e domain.Entry, events ...audit.Event) error
	// Entry returns an entry with its amendments in order.
	Entry(ctx context.Context, clinicID, id string) (domain.Entry, error)
	// Entries lists a patient's entries (with amendments), oldest first.
	Entries(ctx context.Context, clinicID, patientID string) ([]domain.Entry, error)
	// UpdateEntry runs fn on the entry (with amendments) inside one
	// transaction and saves its own fields; the messages fn returns are
	// written to the events outbox in the same transaction.
	UpdateEntry(ctx context.Context, clinicID, id string, fn func(e *domain.Entry) ([]events.Message, error), events ...audit.Event) (domain.Entry, error)
	// AddAmendment runs fn on the locked entry inside one transaction and
	// appends the amendment it returns.
	AddAmendment(ctx context.Context, clinicID, entryID string, fn func(e domain.Entry) (domain.Amendment, error), events ...audit.Event) (domain.Entry, error)

	// Form templates: versions are never changed, only added; version 0
	// means the latest. Form requests: CompleteFormRequest stores a
	// completion only while the request is open (domain.ErrLinkInvalid
	// otherwise), so a link works once.
	CreateFormTemplate(ctx context.Context, t domain.FormTemplate, events ...audit.Event) error
	FormTemplate(ctx context.Context, clinicID, id string, version int) (domain.FormTemplate, error)
	FormTemplates(ctx context.Context, clinicID string) ([]domain.FormTemplate, error)
	CreateFormRequest(ctx context.Context, f domain.FormRequest, events ...audit.Event) error
	FormRequest(ctx context.Context, clinicID, id string) (domain.FormRequest, error)
	FormRequestByToken(ctx context.Context, clinicID, tokenHash string) (domain.FormRequest, error)
	FormRequests(ctx context.Context, clinicID, patientID string) ([]domain.FormRequest, error)
	CompleteFormRequest(ctx context.Context, f domain.FormRequest, events ...audit.Event) error

	// MergePatients makes dupID a tombstone of keptID, with the
	// patient.merged message, in one transaction; a profile already merged
	// is a *domain.MergedError.
	MergePatients(ctx context.Context, clinicID, keptID, dupID string, at time.Time, m events.Message, events ...audit.Event) error

	// RecordAudit records events on their own, in one transaction: for
	// reads and refusals, which change nothing to commit with.
	RecordAudit(ctx context.Context, events ...audit.Event) error
}

// PatientQuery holds the lookups (keyed hashes) a search matches; empty
// fields do not filter. At least one must be set.
type PatientQuery struct {
	Email, Phone, DOB string
	// LastName and FullName are alternatives: a patient matches the name
	// when either lookup matches.
	LastName, FullName string
	AfterID            string
	Limit              int
}
